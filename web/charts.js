// Small hand-drawn SVG line charts: a time axis, a few gridlines, one or two series with gaps
// where a value is null, and an optional dashed threshold line.

import { formatTick } from "./format.js";

const NS = "http://www.w3.org/2000/svg";
const MARGIN = { top: 10, right: 12, bottom: 22, left: 48 };

function el(name, attrs = {}, text = null) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** Round gridline values from 0 (or `lo`) up past `max`: steps of 1, 2 or 5 times 10^k. */
export function niceTicks(lo, max, count = 3) {
  const span = Math.max(max - lo, 1e-9);
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let v = lo; v < max + step * 0.999; v += step) ticks.push(Number(v.toFixed(10)));
  if (ticks.length < 2) ticks.push(lo + step);
  return ticks;
}

const MINUTE = 60e3;
const TIME_STEPS = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE);

/** Time ticks at round local times (every 5 min up to every day), at most `max` of them. */
export function timeTicks(from, to, max) {
  const day = 1440 * MINUTE;
  const step = TIME_STEPS.find((s) => (to - from) / s <= max)
    ?? day * Math.ceil((to - from) / day / max);
  const midnight = new Date(from);
  midnight.setHours(0, 0, 0, 0);
  const ticks = [];
  let t = midnight.getTime() + Math.ceil((from - midnight.getTime()) / step) * step;
  for (; t <= to; t += step) ticks.push(t);
  return { ticks, step };
}

function seriesMax(series) {
  let max = 0;
  for (const s of series) for (const p of s.points) if (p.v !== null && p.v > max) max = p.v;
  return max;
}

function pathFor(points, x, y) {
  let d = "";
  let pen = false;
  for (const p of points) {
    if (p.v === null) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    pen = true;
  }
  return d;
}

function lonelyPoints(points) {
  return points.filter((p, i) =>
    p.v !== null && (points[i - 1]?.v ?? null) === null && (points[i + 1]?.v ?? null) === null);
}

function drawAxes(svg, { width, height, from, to, yTicks, x, y, format }) {
  const grid = el("g", { class: "grid" });
  for (const value of yTicks) {
    const py = y(value);
    grid.append(el("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: py, y2: py }));
    grid.append(el("text", { x: MARGIN.left - 6, y: py + 4, class: "ylabel" }, format(value)));
  }
  const most = Math.max(2, Math.floor((width - MARGIN.left - MARGIN.right) / 70));
  const { ticks, step } = timeTicks(from, to, most);
  for (const t of ticks) {
    const px = x(t);
    const anchor = px < MARGIN.left + 18 ? "start" : px > width - MARGIN.right - 18 ? "end" : "middle";
    grid.append(el("line", {
      x1: px, x2: px, y1: height - MARGIN.bottom, y2: height - MARGIN.bottom + 4, class: "tick",
    }));
    grid.append(el("text", { x: px, y: height - 5, class: "xlabel", "text-anchor": anchor },
      formatTick(new Date(t), step)));
  }
  svg.append(grid);
}

/**
 * Draw `series` ([{points: [{t, v}], cls}]) over [from, to] (ms) into `svg`.
 * Options: `format` for y labels, `scale` (largest value → gridline values, lowest first),
 * and `threshold` for a dashed line.
 */
export function drawChart(svg, series, options) {
  const { from, to, format, threshold = null } = options;
  const scale = options.scale ?? ((max) => niceTicks(0, max || 1));
  const box = svg.getBoundingClientRect();
  const width = Math.max(160, Math.round(box.width));
  const height = Math.max(90, Math.round(box.height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const ticks = scale(seriesMax(series));
  const lo = ticks[0];
  const hi = ticks[ticks.length - 1];
  const span = Math.max(1, to - from);
  const x = (t) => MARGIN.left + ((t - from) / span) * (width - MARGIN.left - MARGIN.right);
  const y = (v) => {
    const clamped = Math.min(hi, Math.max(lo, v));
    return height - MARGIN.bottom - ((clamped - lo) / (hi - lo)) * (height - MARGIN.top - MARGIN.bottom);
  };
  const yTicks = ticks;
  const nodes = [];
  svg.replaceChildren();
  drawAxes(svg, { width, height, from, to, yTicks, x, y, format });
  if (threshold !== null) {
    const py = y(threshold);
    nodes.push(el("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: py, y2: py, class: "threshold" }));
  }
  const hasData = series.some((s) => s.points.some((p) => p.v !== null));
  if (!hasData) {
    nodes.push(el("text", { x: (MARGIN.left + width) / 2, y: height / 2, class: "empty" },
      "No data in this range yet"));
  }
  series.forEach((s, index) => {
    const d = pathFor(s.points, x, y);
    if (d && index === 0) {
      const base = y(lo).toFixed(1);
      const area = d.replace(/M([\d.]+),([\d.]+)/g, `M$1,${base}L$1,$2`);
      nodes.push(el("path", { d: closeAreas(area, base), class: `area ${s.cls}` }));
    }
    if (d) nodes.push(el("path", { d, class: `line ${s.cls}` }));
    for (const p of lonelyPoints(s.points)) {
      nodes.push(el("circle", { cx: x(p.t), cy: y(p.v), r: 2.5, class: `dot ${s.cls}` }));
    }
  });
  svg.append(...nodes);
}

/** Close each run of an area path back down to the baseline. */
function closeAreas(d, base) {
  const runs = d.split("M").filter(Boolean);
  return runs.map((run) => {
    const last = run.split("L").pop().split(",")[0];
    return `M${run}L${last},${base}Z`;
  }).join("");
}
