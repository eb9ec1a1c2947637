// Human units for the dashboard: durations, counts, percentages and times.

export const DASH = "—";

const count = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const shortClock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", hour12: false,
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

/** The unit a duration axis up to `maxMinutes` reads best in: [minutes per unit, symbol]. */
export function durationUnit(maxMinutes) {
  if (maxMinutes < 1) return [1 / 60, "s"];
  if (maxMinutes < 90) return [1, "m"];
  if (maxMinutes < 48 * 60) return [60, "h"];
  return [1440, "d"];
}

/** An axis label in a fixed unit: "0", "30 m", "2.5 h", "3 d". */
export function formatInUnit(minutes, [size, symbol]) {
  if (minutes === 0) return "0";
  const value = minutes / size;
  return `${Number.isInteger(value) ? value : Number(value.toFixed(1))} ${symbol}`;
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

const weekday = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const weekdayDate = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric" });

/** A chart tick: the time of day, the weekday at midnight, the day when ticks are days apart. */
export function formatTick(date, stepMs) {
  if (stepMs >= 86400e3) return weekdayDate.format(date);
  if (date.getHours() === 0 && date.getMinutes() === 0) return weekday.format(date);
  return shortClock.format(date);
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
