// The tiles: the current snapshot's figures, updated in place so nothing jumps.

import { DASH, formatCount, formatDuration, formatPercent } from "./format.js";

const WARN_BAND = 5; // percentage points under the SLA target that are amber, not red

const NULL_HINTS = {
  frt: "No first responses in the metrics window, so there is nothing to measure yet.",
  mttr: "No tickets resolved in the metrics window, so there is nothing to measure yet.",
  sla: "No SLA targets were met or missed in the metrics window.",
};
const HINTS = {
  frt: "Time to first reply, over the metrics window.",
  mttr: "Time from creation to resolution, over the metrics window.",
};

function byId(id) {
  return document.getElementById(id);
}

/** Set text and flash the element when the value really changed. */
function setText(node, text) {
  if (node.textContent === text) return;
  const had = node.textContent !== DASH && node.textContent !== "";
  node.textContent = text;
  if (had) {
    node.classList.remove("changed");
    void node.offsetWidth; // restart the CSS animation
    node.classList.add("changed");
  }
}

const TOTALS = {
  "status-total": [(n) => `${formatCount(n)} tickets in all, now.`, "All the organization's tickets, now."],
  "priority-total": [(n) => `${formatCount(n)} open or pending, now.`, "Open and pending tickets, now."],
};

function renderCounts(listId, stackId, values, totalId) {
  const list = byId(listId);
  const stack = byId(stackId);
  const keys = [...list.children].map((row) => row.dataset.key);
  const total = keys.reduce((sum, key) => sum + (values?.[key] ?? 0), 0);
  for (const row of list.children) {
    setText(row.querySelector("dd"), formatCount(values?.[row.dataset.key] ?? null));
  }
  if (stack.children.length !== keys.length) {
    stack.replaceChildren(...keys.map((key) => {
      const part = document.createElement("span");
      part.className = `part k-${key}`;
      return part;
    }));
  }
  keys.forEach((key, index) => {
    const share = total ? ((values?.[key] ?? 0) / total) * 100 : 0;
    stack.children[index].style.width = `${share}%`;
  });
  const [sentence, empty] = TOTALS[totalId];
  byId(totalId).textContent = values ? sentence(total) : empty;
}

function renderDuration(name, p50, p95) {
  setText(byId(`${name}-p50`), formatDuration(p50));
  setText(byId(`${name}-p95`), formatDuration(p95));
  const hint = byId(`${name}-hint`);
  const missing = p50 === null || p50 === undefined;
  hint.textContent = missing ? NULL_HINTS[name] : HINTS[name];
  hint.classList.toggle("why", missing);
}

export function slaLevel(value, target) {
  if (value === null || value === undefined) return "none";
  if (value >= target) return "ok";
  return value >= target - WARN_BAND ? "warn" : "bad";
}

function renderSla(value, target) {
  const node = byId("sla-value");
  setText(node, formatPercent(value));
  node.dataset.level = slaLevel(value, target);
  byId("sla-meter").style.width = `${value ?? 0}%`;
  byId("sla-meter").dataset.level = node.dataset.level;
  byId("sla-mark").style.left = `${target}%`;
  const hint = byId("sla-hint");
  const missing = value === null || value === undefined;
  hint.textContent = missing
    ? NULL_HINTS.sla
    : `Targets met, over the metrics window. Target ${target} %: ${
      node.dataset.level === "ok" ? "on target" : "below target"}.`;
  hint.classList.toggle("why", missing);
}

/** Agents sorted by load (then handle); rows are reused by handle so bars glide. */
function renderAgents(load) {
  const list = byId("agent-bars");
  const entries = Object.entries(load ?? {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const existing = new Map([...list.children].map((row) => [row.dataset.handle, row]));
  const rows = entries.map(([handle, n]) => {
    const row = existing.get(handle) ?? agentRow(handle);
    setText(row.querySelector(".value"), formatCount(n));
    row.querySelector(".fill").style.width = `${(n / max) * 100}%`;
    row.setAttribute("aria-label", `${handle}: ${n} open or pending`);
    return row;
  });
  list.replaceChildren(...rows);
  byId("agents-hint").hidden = entries.length > 0;
}

function agentRow(handle) {
  const row = document.createElement("li");
  row.dataset.handle = handle;
  const name = document.createElement("span");
  name.className = "handle";
  name.textContent = handle;
  name.title = handle;
  const track = document.createElement("span");
  track.className = "track";
  track.setAttribute("aria-hidden", "true");
  const fill = document.createElement("span");
  fill.className = "fill";
  track.append(fill);
  const value = document.createElement("span");
  value.className = "value";
  value.setAttribute("aria-hidden", "true");
  row.append(name, track, value);
  return row;
}

export function renderSnapshot(snapshot, { slaTarget }) {
  renderCounts("status-counts", "status-stack", snapshot.tickets_by_status, "status-total");
  renderCounts("priority-counts", "priority-stack", snapshot.tickets_by_priority, "priority-total");
  renderDuration("frt", snapshot.frt_p50, snapshot.frt_p95);
  renderDuration("mttr", snapshot.mttr_p50, snapshot.mttr_p95);
  renderSla(snapshot.sla_compliance_pct, slaTarget);
  renderAgents(snapshot.agent_load);
}

/** Back to dashes, e.g. after switching organization and before its first snapshot. */
export function clearTiles(slaTarget) {
  renderCounts("status-counts", "status-stack", null, "status-total");
  renderCounts("priority-counts", "priority-stack", null, "priority-total");
  for (const id of ["frt-p50", "frt-p95", "mttr-p50", "mttr-p95"]) byId(id).textContent = DASH;
  byId("frt-hint").textContent = HINTS.frt;
  byId("mttr-hint").textContent = HINTS.mttr;
  renderSla(null, slaTarget);
  byId("sla-hint").textContent = "Targets met, over the metrics window.";
  for (const id of ["frt-hint", "mttr-hint", "sla-hint"]) byId(id).classList.remove("why");
  byId("agent-bars").replaceChildren();
}
