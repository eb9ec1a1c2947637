// Human units for the dashboard: durations, counts, percentages and times.

export const DASH = "—";

const count = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const shortClock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", hour12: false,
});
const dayClock = new Intl.DateTimeFormat(undefined, {
  weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false,
});

/** Minutes (float) as "45 s", "12 m", "4 h 12 m" or "3 d 5 h"; null as "—". */
export function formatDuration(minutes) {
  if (minutes === null || minutes === undefined || !Number.isFinite(minutes)) return DASH;
  const seconds = Math.max(0, Math.round(minutes * 60));
  if (seconds < 60) return `${seconds} s`;
  const totalMinutes = Math.round(seconds / 60);
  if (totalMinutes < 60) return `${totalMinutes} m`;
  const hours = Math.floor(totalMinutes / 60);
  if (hours < 24) {
    const m = totalMinutes % 60;
    return m ? `${hours} h ${m} m` : `${hours} h`;
  }
  const days = Math.floor(hours / 24);
  const h = hours % 24;
  return h ? `${days} d ${h} h` : `${days} d`;
}

/** A short duration for chart axes: "45 s", "12 m", "4.2 h", "3.1 d". */
export function formatAxisDuration(minutes) {
  if (minutes < 1) return `${Math.round(minutes * 60)} s`;
  if (minutes < 60) return `${Math.round(minutes)} m`;
  if (minutes < 1440) return `${trim(minutes / 60)} h`;
  return `${trim(minutes / 1440)} d`;
}

function trim(value) {
  return value >= 10 ? String(Math.round(value)) : value.toFixed(1).replace(/\.0$/, "");
}

export function formatCount(value) {
  return value === null || value === undefined ? DASH : count.format(value);
}

export function formatPercent(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return `${value.toFixed(1)} %`;
}

/** A snapshot timestamp (ISO string) as the local wall-clock time. */
export function formatClock(iso) {
  if (!iso) return DASH;
  return clock.format(new Date(iso));
}

/** A chart tick: hours and minutes, with the weekday when the span is long. */
export function formatTick(date, spanMs) {
  return spanMs > 36 * 3600 * 1000 ? dayClock.format(date) : shortClock.format(date);
}

/** Seconds since a moment, as "just now", "12 s ago", "3 m ago", "2 h ago". */
export function formatAgo(thenMs, nowMs) {
  if (thenMs === null) return "";
  const seconds = Math.max(0, Math.floor((nowMs - thenMs) / 1000));
  if (seconds < 2) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} m ago`;
  return `${Math.floor(minutes / 60)} h ago`;
}
