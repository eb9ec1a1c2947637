// Calls to /api/v1 with the bearer token. The stream URL is the only place the token goes into
// a query string, because EventSource cannot send headers (docs/contract.md section 5).

export class AuthError extends Error {
  constructor(status, code, detail) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  /** `base` is the absolute URL of /api/v1/; `organizationId` is set for admin tokens only. */
  constructor(base, token, organizationId = null) {
    this.base = base;
    this.token = token;
    this.organizationId = organizationId;
  }

  url(path, params = {}) {
    const url = new URL(path, this.base);
    if (this.organizationId) url.searchParams.set("organization_id", this.organizationId);
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined) url.searchParams.set(name, String(value));
    }
    return url;
  }

  async get(path, params = {}, headers = {}) {
    const response = await fetch(this.url(path, params), {
      headers: { Accept: "application/json", Authorization: `Bearer ${this.token}`, ...headers },
      cache: "no-store",
      credentials: "omit",
    });
    if (response.status === 304) return { status: 304, etag: null, body: null };
    const body = await response.json().catch(() => null);
    if (response.status === 401 || response.status === 403) {
      throw new AuthError(response.status, body?.error, body?.detail);
    }
    if (!response.ok) throw new ApiError(response.status, body?.error, body?.detail);
    return { status: response.status, etag: response.headers.get("ETag"), body };
  }

  /** The latest snapshot; `{status: 304}` when `etag` still matches. */
  live(etag) {
    return this.get("metrics/live", {}, etag ? { "If-None-Match": etag } : {});
  }

  history(range, maxPoints) {
    return this.get("metrics/history", { range, max_points: maxPoints });
  }

  organizations() {
    return this.get("organizations");
  }

  streamUrl(lastEventId) {
    const url = this.url("metrics/stream", { last_event_id: lastEventId });
    url.searchParams.set("access_token", this.token);
    return url.toString();
  }
}
