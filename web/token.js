// The access token: read once from the #token= fragment or the sign-in field, kept in
// sessionStorage (this tab only), and removed from the page's own URL at once.

const KEY = "atum.token";
export const ADMIN_SCOPE = "metrics:admin";

/** Move a `#token=` fragment into sessionStorage and strip it from the address bar. */
export function takeTokenFromFragment(location, history) {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = fragment.get("token");
  if (token === null) return;
  fragment.delete("token");
  const rest = fragment.toString();
  const clean = location.pathname + location.search + (rest ? `#${rest}` : "");
  history.replaceState(history.state, "", clean);
  if (token.trim()) storeToken(token.trim());
}

export function storedToken() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

/** The token's claims, or null when it is not a JWT we can read (the server still decides). */
export function readClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

/** Milliseconds until `exp`, or null when the token carries none we can read. */
export function msUntilExpiry(claims, nowMs) {
  if (!claims || typeof claims.exp !== "number") return null;
  return claims.exp * 1000 - nowMs;
}

export function isAdmin(claims) {
  const scope = claims && typeof claims.scope === "string" ? claims.scope : "";
  return scope.split(/\s+/).includes(ADMIN_SCOPE);
}
