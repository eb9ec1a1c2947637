// The snapshot feed: EventSource first; when the stream fails or is buffered by a proxy, poll
// /metrics/live with If-None-Match every few seconds and keep trying the stream with backoff.

import { ApiError, AuthError } from "./api.js";

const POLL_MS = 5000;            // polling cadence while the stream is away
const POLL_FAILED_MS = 10000;    // slower when the server does not answer
const WATCHDOG_MS = 30000;       // while live: a cheap 304 check that the stream is not stale
const STREAM_RETRY_MS = [2000, 5000, 10000, 20000, 30000, 60000];
const STREAM_HEALTHY_MS = 30000; // a stream that lived this long retries fast when it drops
const FIRST_SNAPSHOT_MS = 3000;  // no snapshot this long after opening: ask /live why

export class Feed {
  /**
   * @param {import("./api.js").Api} api
   * @param {{forcePoll: boolean, expired: Function, onExpired: Function, onSnapshot: Function,
   *          onState: Function, onAuthError: Function, onMissing: Function, onReset: Function}} hooks
   */
  constructor(api, hooks) {
    this.api = api;
    this.hooks = hooks;
    this.source = null;
    this.pollTimer = null;
    this.polling = false;
    this.retryTimer = null;
    this.retryIndex = 0;
    this.openedAt = null;
    this.watchdogTimer = null;
    this.staleStrikes = 0;
    this.etag = null;
    this.lastId = null;
    this.lastTs = null;
    this.state = null;
    this.stopped = false;
  }

  start() {
    if (this.hooks.forcePoll) this.startPolling();
    else this.openStream();
  }

  stop() {
    this.stopped = true;
    this.closeStream();
    this.stopPolling();
    clearTimeout(this.retryTimer);
  }

  setState(state) {
    if (this.stopped || state === this.state) return;
    this.state = state;
    this.hooks.onState(state);
  }

  /** Hand a snapshot on once: the stream and a watchdog poll may both bring the same one. */
  deliver(snapshot) {
    if (this.stopped) return false; // a late answer for an organization no longer shown
    const ts = snapshot ? Date.parse(snapshot.snapshot_ts) : NaN;
    if (Number.isNaN(ts) || (this.lastTs !== null && ts <= this.lastTs)) return false;
    this.lastTs = ts;
    this.lastId = snapshot.id;
    this.etag = `"${snapshot.id}"`;
    this.hooks.onSnapshot(snapshot);
    return true;
  }

  openStream() {
    if (this.stopped) return;
    this.closeStream();
    const source = new EventSource(this.api.streamUrl(this.lastId));
    this.source = source;
    source.onopen = () => {
      if (this.source !== source) return;
      this.openedAt = Date.now();
      this.stopPolling();
      this.setState("live");
      this.startWatchdog();
      // The stream sends the latest snapshot at once; silence means there is none yet.
      setTimeout(() => {
        if (this.source === source && this.lastTs === null) this.check();
      }, FIRST_SNAPSHOT_MS);
    };
    source.addEventListener("snapshot", (event) => {
      if (this.source !== source) return;
      this.deliver(JSON.parse(event.data));
    });
    source.addEventListener("reset", () => {
      if (this.source === source) this.hooks.onReset();
    });
    source.onerror = () => {
      if (this.source === source) this.streamFailed();
    };
  }

  closeStream() {
    clearInterval(this.watchdogTimer);
    this.watchdogTimer = null;
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  }

  /** EventSource cannot tell us why it failed: polling finds out (401, 429, network). */
  streamFailed() {
    this.closeStream();
    if (this.stopped) return;
    if (this.hooks.expired()) {
      // The server closes the stream when the token expires; no need to ask it again.
      this.stop();
      this.hooks.onExpired();
      return;
    }
    if (this.state === "live") this.setState("reconnecting");
    if (this.openedAt !== null && Date.now() - this.openedAt >= STREAM_HEALTHY_MS) {
      this.retryIndex = 0;
    }
    this.openedAt = null;
    const delay = STREAM_RETRY_MS[Math.min(this.retryIndex, STREAM_RETRY_MS.length - 1)];
    this.retryIndex += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.openStream(), delay);
    this.startPolling();
  }

  startPolling() {
    if (this.polling || this.stopped) return;
    this.polling = true;
    this.poll();
  }

  stopPolling() {
    this.polling = false;
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  async poll() {
    const ok = await this.check();
    if (!this.polling || this.stopped || ok === null) return;
    this.setState(ok ? "polling" : "reconnecting");
    this.pollTimer = setTimeout(() => this.poll(), ok ? POLL_MS : POLL_FAILED_MS);
  }

  /** One conditional GET of /live: true when the server answered, false when it did not. */
  async check() {
    try {
      const result = await this.api.live(this.etag);
      if (result.status === 200) this.deliver(result.body);
      return true;
    } catch (error) {
      if (this.stopped) return null;
      if (error instanceof AuthError) {
        this.stop();
        this.hooks.onAuthError(error);
        return null;
      }
      if (error instanceof ApiError && error.code === "no_snapshot") {
        this.hooks.onMissing();
        return true;
      }
      return false;
    }
  }

  /** Some proxies accept the stream but buffer it: if /live is ahead twice, poll instead. */
  startWatchdog() {
    clearInterval(this.watchdogTimer);
    this.watchdogTimer = setInterval(async () => {
      const before = this.lastTs;
      const ok = await this.check();
      if (!ok || this.source === null) return;
      this.staleStrikes = this.lastTs !== before ? this.staleStrikes + 1 : 0;
      if (this.staleStrikes >= 2) {
        this.staleStrikes = 0;
        this.retryIndex = STREAM_RETRY_MS.length - 1;
        this.streamFailed();
      }
    }, WATCHDOG_MS);
  }
}
