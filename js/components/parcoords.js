// Parallel coordinates of a sweep: one axis per hyperparameter and one for the metric, one
// line per iteration coloured by its metric.
import { h, replace, svg } from "./dom.js";
import { formatValue } from "./format.js";

const WIDTH_PER_AXIS = 140;
const HEIGHT = 220;
const PAD = { top: 36, bottom: 16, left: 56, right: 70 };

function axisOf(name, values) {
  const numbers = values.filter((v) => typeof v === "number");
  if (numbers.length === values.filter((v) => v !== null && v !== undefined).length && numbers.length) {
    const lo = Math.min(...numbers);
    const hi = Math.max(...numbers);
    return { name, kind: "number", lo, hi, pos: (v) => (typeof v === "number" ? (hi === lo ? 0.5 : (v - lo) / (hi - lo)) : null) };
  }
  const cats = [...new Set(values.filter((v) => v !== null && v !== undefined).map(String))].sort();
  return { name, kind: "category", cats, pos: (v) => (v === null || v === undefined ? null : cats.length === 1 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1)) };
}

/** Colour from red (worst) through yellow to green (best). */
export function metricColour(t) {
  return `hsl(${Math.round(120 * Math.max(0, Math.min(1, t)))}, 70%, 42%)`;
}

export function createParallelCoordinates() {
  const el = h("div", { className: "rw-parcoords" });
  function update(rows, meta) {
    const params = meta?.params || [];
    const metric = meta?.primary_metric;
    const usable = rows.filter((r) => typeof r.metric === "number");
    if (!params.length || !metric || usable.length === 0) {
      el.hidden = true;
      replace(el);
      return;
    }
    el.hidden = false;
    const axes = params.map((p) => axisOf(p, usable.map((r) => r.params?.[p] ?? null)));
    axes.push(axisOf(metric, usable.map((r) => r.metric)));
    const metricAxis = axes[axes.length - 1];
    const goal = meta.goal; // of the primary metric, as the view model decided
    const width = PAD.left + PAD.right + WIDTH_PER_AXIS * (axes.length - 1);
    const innerH = HEIGHT - PAD.top - PAD.bottom;
    const xOf = (i) => PAD.left + i * WIDTH_PER_AXIS;
    const yOf = (t) => PAD.top + (1 - t) * innerH;
    const lines = usable.map((row) => {
      const values = [...params.map((p) => row.params?.[p] ?? null), row.metric];
      const pts = values.map((v, i) => [xOf(i), axes[i].pos(v)]).filter(([, t]) => t !== null);
      const t = metricAxis.pos(row.metric);
      const good = goal === "minimize" ? 1 - t : t;
      return svg(
        "polyline",
        { points: pts.map(([x, t2]) => `${x},${yOf(t2)}`).join(" "), stroke: metricColour(good), fill: "none", "stroke-width": 1.5, "stroke-opacity": 0.75 },
        svg("title", {}, `iteration ${row.iteration}: ${metric} ${formatValue(row.metric)}`),
      );
    });
    const axisEls = axes.map((axis, i) => {
      const ticks = axis.kind === "number" ? [axis.lo, (axis.lo + axis.hi) / 2, axis.hi] : axis.cats;
      return svg(
        "g",
        { class: "rw-pc-axis" },
        svg("line", { x1: xOf(i), x2: xOf(i), y1: PAD.top, y2: PAD.top + innerH, stroke: "currentColor" }),
        svg("text", { x: xOf(i), y: PAD.top - 20, "text-anchor": "middle", class: "rw-pc-label" }, axis.name),
        ticks.map((tick) =>
          svg("text", { x: xOf(i) + 5, y: yOf(axis.pos(tick)) + 4, class: "rw-pc-tick" }, formatValue(tick)),
        ),
      );
    });
    replace(el, svg("svg", { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: "img", "aria-label": "Parallel coordinates of hyperparameters" }, lines, axisEls));
  }
  return { el, update };
}
