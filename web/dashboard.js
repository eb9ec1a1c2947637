// The dashboard: sign-in, organization picker, the live feed, tiles, trends and status bar.

import { Api, AuthError } from "./api.js";
import { Feed } from "./feed.js";
import { formatAgo, formatClock } from "./format.js";
import { clearTiles, renderSnapshot } from "./tiles.js";
import {
  forgetToken, isAdmin, msUntilExpiry, readClaims, storedToken, storeToken, takeTokenFromFragment,
} from "./token.js";
import { Trends } from "./trends.js";

const API_BASE = new URL("../../api/v1/", import.meta.url);
const ORG_KEY = "atum.organization";
const STATE_LABELS = {
  connecting: "Connecting", live: "Live", polling: "Polling", reconnecting: "Reconnecting",
};
const MAX_TIMER_MS = 2 ** 31 - 1;

const query = new URLSearchParams(location.search);
const options = {
  forcePoll: query.get("transport") === "poll",
  slaTarget: clampTarget(Number(query.get("sla_target") ?? 95)),
};

const $ = (id) => document.getElementById(id);
let session = null; // {token, claims, api, feed, expiryTimer}
let lastUpdateMs = null;
let trends = null;

function clampTarget(value) {
  return Number.isFinite(value) && value > 0 && value <= 100 ? value : 95;
}

function showSignIn(reason) {
  endSession();
  $("board").hidden = true;
  $("org").hidden = true;
  $("sign-out").hidden = true;
  $("signin").hidden = false;
  $("signin-reason").textContent = reason;
  $("signin-reason").hidden = !reason;
  setState("signed-out", "Signed out");
  lastUpdateMs = null;
  tick();
  $("signin-token").value = "";
  $("signin-token").focus();
}

function endSession() {
  if (!session) return;
  session.feed?.stop();
  clearTimeout(session.expiryTimer);
  session = null;
}

function setState(state, label = STATE_LABELS[state]) {
  $("conn").dataset.state = state;
  $("conn-label").textContent = label;
}

function notice(text) {
  $("notice").textContent = text ?? "";
  $("notice").hidden = !text;
}

function tick() {
  $("ago").textContent = lastUpdateMs === null ? "" : `updated ${formatAgo(lastUpdateMs, Date.now())}`;
}

async function begin(token) {
  endSession();
  const claims = readClaims(token);
  const left = msUntilExpiry(claims, Date.now());
  if (left !== null && left <= 0) {
    forgetToken();
    showSignIn("Your token has expired. Paste a new one to continue.");
    return;
  }
  session = { token, claims, api: null, feed: null, expiryTimer: null };
  if (left !== null) session.expiryTimer = setTimeout(expire, Math.min(left, MAX_TIMER_MS));
  $("signin").hidden = true;
  $("board").hidden = false;
  $("sign-out").hidden = false;
  setState("connecting");
  const current = session;
  const orgId = await pickOrganization(current);
  if (session === current) connect(orgId);
}

/** Fill the picker from /organizations; an admin's choice is kept for the tab. */
async function pickOrganization(current) {
  const admin = isAdmin(current.claims);
  let items = [];
  try {
    ({ body: { items } } = await new Api(API_BASE, current.token).organizations());
  } catch (error) {
    if (error instanceof AuthError && error.status === 401) {
      failAuth(error);
      return null;
    }
    items = []; // the picker is a convenience: the feed still works for the token's own org
  }
  const picker = $("org-picker");
  const own = items.find((o) => o.id === current.claims?.org_id) ?? items[0];
  const saved = admin ? sessionStorage.getItem(ORG_KEY) : null;
  const chosen = items.find((o) => o.id === saved) ?? own ?? null;
  picker.replaceChildren(...items.map((o) => new Option(o.name, o.id, false, o === chosen)));
  const choose = admin && items.length > 1;
  picker.hidden = !choose;
  $("org-name").hidden = choose;
  $("org-name").textContent = chosen?.name ?? "";
  $("org").hidden = !chosen;
  $("org").classList.toggle("picking", choose);
  return admin ? chosen?.id ?? null : null;
}

function connect(orgId) {
  session.feed?.stop();
  lastUpdateMs = null;
  clearTiles(options.slaTarget);
  notice(null);
  $("snapshot-time").textContent = "—";
  setState("connecting");
  const api = new Api(API_BASE, session.token, orgId);
  session.api = api;
  session.feed = new Feed(api, {
    forcePoll: options.forcePoll,
    expired,
    onExpired: expire,
    onSnapshot: (snapshot) => {
      notice(null);
      renderSnapshot(snapshot, options);
      trends.append(snapshot);
      const time = $("snapshot-time");
      time.dateTime = snapshot.snapshot_ts;
      time.textContent = formatClock(snapshot.snapshot_ts);
      lastUpdateMs = Date.now();
      tick();
    },
    onState: (state) => setState(state),
    onAuthError: failAuth,
    onMissing: () => notice("No snapshot yet: the figures appear after the worker's first cycle."),
    onReset: () => trends.load(),
  });
  session.feed.start();
  trends.use(api);
}

function expire() {
  forgetToken();
  showSignIn("Your session has expired. Paste a new token to continue.");
}

/** Within a second of `exp` counts as expired: the server may close the stream that early. */
function expired() {
  const left = msUntilExpiry(session?.claims, Date.now());
  return left !== null && left < 1000;
}

function failAuth(error) {
  if (error.status === 403) {
    session?.feed?.stop();
    setState("signed-out", "No access");
    notice("This token may not read that organization. Pick another or sign in again.");
    return;
  }
  forgetToken();
  showSignIn("Your token has expired or is not valid. Paste a new one to continue.");
}

function onTrendsError(error) {
  if (error instanceof AuthError) failAuth(error);
}

function wire() {
  trends = new Trends(document.querySelector(".trends"), {
    slaTarget: options.slaTarget, onError: onTrendsError,
  });
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("signin-token").value.trim();
    $("signin-token").value = "";
    if (!token) return;
    storeToken(token);
    begin(token);
  });
  $("sign-out").addEventListener("click", () => {
    forgetToken();
    showSignIn("Signed out.");
  });
  $("org-picker").addEventListener("change", (event) => {
    sessionStorage.setItem(ORG_KEY, event.target.value);
    $("org-name").textContent = event.target.selectedOptions[0]?.text ?? "";
    connect(event.target.value);
  });
  setInterval(tick, 1000);
}

wire();
takeTokenFromFragment(location, history);
const token = storedToken();
if (token) begin(token);
else showSignIn("");
