// Line charts drawn with uPlot (small, fast, canvas): the metric charts of a run page and
// the overlays of the compare page. Labels are drawn on canvas or set as text.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "../components/dom.js";
import { PALETTE } from "../components/palette.js";

// The view model names each series' colour; the palette is for series it did not colour.
export { PALETTE };

/**
 * uPlot wants one x array shared by every series: merge the series' x values and put null
 * where a series has no point (lines span those gaps). Points are sorted by x.
 * @param {Array<{x: number[], y: number[]}>} series
 * @returns {Array<Array<number|null>>} [xs, ys1, ys2, ...]
 */
export function alignSeries(series) {
  if (series.length === 1) {
    const { x, y } = series[0];
    const order = [...x.keys()];
    let sorted = true;
    for (let i = 1; i < x.length; i++) if (x[i] < x[i - 1]) sorted = false;
    if (!sorted) order.sort((a, b) => x[a] - x[b] || a - b);
    return [order.map((i) => x[i]), order.map((i) => y[i])];
  }
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const where = new Map(xs.map((x, i) => [x, i]));
  return [
    xs,
    ...series.map((s) => {
      const ys = new Array(xs.length).fill(null);
      for (let i = 0; i < s.x.length; i++) ys[where.get(s.x[i])] = s.y[i];
      return ys;
    }),
  ];
}

function readableWidth(el) {
  return Math.max(240, Math.floor(el.clientWidth || el.getBoundingClientRect().width || 360));
}

/**
 * A line chart in `el`.
 * @param {HTMLElement} el
 * @param {object} options
 * @param {string} options.title
 * @param {string} [options.xLabel]
 * @param {string} [options.yLabel]
 * @param {number} [options.height]
 * @param {boolean} [options.legend] show uPlot's legend (default: with several series)
 * @param {Array<{label: string, kind?: "line"|"points"|"step", colour?: string}>} options.series
 */
export function createLineChart(el, { title, xLabel = "", yLabel = "", height = 220, series, legend = null }) {
  const titleEl = h("div", { className: "rw-chart-title", text: title });
  const plotEl = h("div", { className: "rw-chart-plot" });
  el.append(titleEl, plotEl);
  let plot = null;
  let meta = series;

  function options() {
    return {
      width: readableWidth(el),
      height,
      scales: { x: { time: false } },
      legend: { show: legend ?? meta.length > 1, live: false },
      cursor: { drag: { x: true, y: false } },
      axes: [
        { label: xLabel, labelSize: xLabel ? 20 : 0, size: 36 },
        { label: yLabel, labelSize: yLabel ? 20 : 0, size: 56 },
      ],
      series: [
        { label: xLabel || "x" },
        ...meta.map((s, i) => {
          const colour = s.colour || PALETTE[i % PALETTE.length];
          const base = { label: s.label, stroke: colour, width: 1.5, spanGaps: true };
          if (s.kind === "points") return { ...base, paths: () => null, points: { show: true, size: 6, fill: colour } };
          if (s.kind === "step") return { ...base, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } };
          return { ...base, points: { show: false } };
        }),
      ],
    };
  }

  /** Draw `data` (one {x, y} per series, in the order of `series`). */
  function setData(data, newSeries) {
    const changed = newSeries && JSON.stringify(newSeries) !== JSON.stringify(meta);
    if (newSeries) meta = newSeries;
    const aligned = alignSeries(data.length ? data : [{ x: [], y: [] }]);
    if (!plot || changed) {
      if (plot) plot.destroy();
      plot = new uPlot(options(), aligned, plotEl);
      el.dataset.points = String(aligned[0].length);
      return;
    }
    plot.setData(aligned);
    el.dataset.points = String(aligned[0].length);
  }

  const resize = new ResizeObserver(() => {
    if (plot) {
      const width = readableWidth(el);
      if (Math.abs(width - plot.width) > 4) plot.setSize({ width, height });
    }
  });
  resize.observe(el);

  function destroy() {
    resize.disconnect();
    if (plot) plot.destroy();
    plot = null;
  }

  return { el, setData, destroy, get plot() { return plot; } };
}
