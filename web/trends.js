// Trend charts: history from /metrics/history (max_points sized to the chart), extended live.

import { drawChart, niceTicks } from "./charts.js";
import {
  durationUnit, formatCount, formatDuration, formatInUnit, formatPercent,
} from "./format.js";

const RANGES = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };
const PIXELS_PER_POINT = 3;

/** The few numbers a chart needs from one snapshot. */
function point(snapshot) {
  const open = snapshot.tickets_by_priority
    ? Object.values(snapshot.tickets_by_priority).reduce((a, b) => a + b, 0)
    : null;
  return {
    t: Date.parse(snapshot.snapshot_ts),
    backlog: open,
    frt50: snapshot.frt_p50, frt95: snapshot.frt_p95,
    mttr50: snapshot.mttr_p50, mttr95: snapshot.mttr_p95,
    sla: snapshot.sla_compliance_pct,
  };
}

/** Gridlines at round values of the unit the largest duration reads best in. */
function durationAxis(max) {
  const unit = durationUnit(max);
  const ticks = niceTicks(0, (max || 1) / unit[0]).map((v) => v * unit[0]);
  return { scale: () => ticks, format: (v) => formatInUnit(v, unit) };
}

function countAxis() {
  return { scale: (max) => niceTicks(0, Math.max(max, 3)), format: (v) => formatCount(v) };
}

const CHARTS = {
  backlog: { keys: ["backlog"], axis: countAxis, speak: formatCount },
  frt: { keys: ["frt50", "frt95"], axis: durationAxis, speak: formatDuration },
  mttr: { keys: ["mttr50", "mttr95"], axis: durationAxis, speak: formatDuration },
  sla: { keys: ["sla"], axis: null, speak: formatPercent },
};

export class Trends {
  constructor(root, { slaTarget, onError }) {
    this.root = root;
    this.slaTarget = slaTarget;
    this.onError = onError;
    this.api = null;
    this.range = "24h";
    this.points = [];
    this.bucketMs = 0;
    this.generation = 0;
    this.frame = 0;
    this.buttons = [...root.querySelectorAll("[data-range]")];
    for (const button of this.buttons) {
      button.addEventListener("click", () => this.select(button.dataset.range));
      button.addEventListener("keydown", (event) => this.arrowKeys(event, button));
    }
    new ResizeObserver(() => this.schedule()).observe(root.querySelector(".charts"));
  }

  /** Arrow keys move between the range radios, as a radio group should. */
  arrowKeys(event, button) {
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const index = (this.buttons.indexOf(button) + step + this.buttons.length) % this.buttons.length;
    this.buttons[index].focus();
    this.select(this.buttons[index].dataset.range);
  }

  select(range) {
    if (!(range in RANGES)) return;
    this.range = range;
    for (const button of this.buttons) {
      const on = button.dataset.range === range;
      button.setAttribute("aria-checked", String(on));
      button.tabIndex = on ? 0 : -1;
    }
    this.load();
  }

  use(api) {
    this.api = api;
    this.points = [];
    this.select(this.range);
  }

  maxPoints() {
    const svg = this.root.querySelector("svg.plot");
    const width = svg ? svg.getBoundingClientRect().width : 600;
    return Math.max(10, Math.min(1000, Math.round(width / PIXELS_PER_POINT)));
  }

  async load() {
    if (!this.api) return;
    const generation = ++this.generation;
    const maxPoints = this.maxPoints();
    this.bucketMs = RANGES[this.range] / maxPoints;
    this.schedule();
    try {
      const { body } = await this.api.history(this.range, maxPoints);
      if (generation !== this.generation) return;
      const loaded = body.items.map(point);
      const newest = loaded.length ? loaded[loaded.length - 1].t : -Infinity;
      // Snapshots that arrived live while the request was out stay.
      this.points = loaded.concat(this.points.filter((p) => p.t > newest));
      this.schedule();
    } catch (error) {
      if (generation === this.generation) this.onError(error);
    }
  }

  /** Extend the series with a live snapshot, one point per bucket like /history. */
  append(snapshot) {
    const p = point(snapshot);
    const last = this.points[this.points.length - 1];
    if (last && p.t <= last.t) return;
    if (last && p.t - last.t < this.bucketMs && this.points.length > 1) {
      const before = this.points[this.points.length - 2];
      if (p.t - before.t < this.bucketMs) this.points.pop();
    }
    this.points.push(p);
    const from = Date.now() - RANGES[this.range];
    while (this.points.length && this.points[0].t < from) this.points.shift();
    this.schedule();
  }

  schedule() {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    const to = Math.max(Date.now(), this.points.length ? this.points[this.points.length - 1].t : 0);
    const from = to - RANGES[this.range];
    for (const figure of this.root.querySelectorAll("[data-chart]")) {
      const spec = CHARTS[figure.dataset.chart];
      const series = spec.keys.map((key, i) => ({
        cls: `s${i}`,
        points: this.points.map((p) => ({ t: p.t, v: p[key] ?? null })),
      }));
      const svg = figure.querySelector("svg");
      const axis = spec.axis
        ? spec.axis(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v ?? 0))))
        : { scale: () => slaTicks(this.points), format: (v) => `${Math.round(v)}%` };
      drawChart(svg, series, {
        from, to, ...axis, threshold: spec.axis ? null : this.slaTarget,
      });
      svg.setAttribute("aria-label", this.describe(figure, spec));
    }
  }

  describe(figure, spec) {
    const title = figure.querySelector("figcaption").firstChild.textContent.trim();
    const latest = [...this.points].reverse().find((p) => p[spec.keys[0]] !== null);
    if (!latest) return `${title}: no data over the last ${this.range}`;
    const values = spec.keys.map((key) => spec.speak(latest[key])).join(" and ");
    return `${title} over the last ${this.range}, latest ${values}`;
  }
}

/** SLA gridlines: from a round ten under the lowest value (80 or lower) up to 100. */
function slaTicks(points) {
  const values = points.map((p) => p.sla).filter((v) => v !== null && v !== undefined);
  const lowest = values.length ? Math.min(...values) : 0;
  let lo = Math.max(0, Math.min(80, Math.floor((lowest - 5) / 10) * 10));
  let step = 10;
  if (lo < 20) [lo, step] = [0, 25];
  else if (lo < 70) [lo, step] = [Math.floor(lo / 20) * 20, 20];
  const ticks = [];
  for (let v = lo; v <= 100; v += step) ticks.push(v);
  return ticks;
}
