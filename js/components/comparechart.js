// One chart of runs side by side: a line per run (and column) with the chart toolbar that
// every chart has (smoothing, log y, x = step or time, zoom, PNG, CSV). Where the lines are
// read again (a zoomed range at full resolution, the runs against time) and where the CSV
// comes from is the host's: the kernel in a notebook, the server's API in the portal.
import { h, replace } from "./dom.js";
import { createChartToolbar, downloadBlob, fileName } from "./chartcontrols.js";
import { createLineChart } from "../portal/chart.js";

/** The answer's lines in the order of the chart's, matched by run and series id. */
export function alignRuns(spec, answer) {
  const key = (s) => `${s.run}\u0000${s.id ?? "value"}`;
  const byKey = new Map(answer.map((s) => [key(s), s]));
  return spec.series.map((s) => byKey.get(key(s)) ?? { x: [], y: [] });
}

/**
 * Keep in `grid` the charts of `specs` alone: a metric no longer compared loses its chart,
 * and the grid says so when none is left.
 * @param {HTMLElement} grid
 * @param {Map<string, {destroy: () => void}>} charts by metric name, changed in place
 * @param {Array<{name: string}>} specs the charts compared now
 * @param {(chart: object) => HTMLElement} boxOf the element a chart was put in the grid as
 */
export function pruneCharts(grid, charts, specs, boxOf) {
  const names = new Set(specs.map((c) => c.name));
  for (const [name, chart] of charts) {
    if (names.has(name)) continue;
    chart.destroy();
    boxOf(chart).remove();
    charts.delete(name);
  }
  if (!specs.length) replace(grid, h("div", { className: "rw-empty", text: "These runs logged no charted metric." }));
  else grid.querySelector(":scope > .rw-empty")?.remove();
}

/**
 * @param {HTMLElement} el where the toolbar and chart go
 * @param {{name: string, x_label: string, controls?: object, series: Array<{run: string, id?: string, x: number[], y: number[]}>}} spec
 * @param {Array<{label: string, colour?: string}>} series each line's label and colour
 * @param {object} [host]
 * @param {(spec: object, axis: string, from: number|null, to: number|null) => Promise<Array<{run: string, id: string, x: number[], y: number[]}>>} [host.readRange]
 *   every run's series on `axis`, cut to [from, to], from every point (no time axes without it)
 * @param {(spec: object) => Promise<void>} [host.csv] download every point of the runs
 * @param {(text: string) => void} [host.flash] tell the reader something failed
 * @param {boolean} [host.legend] the chart's own legend (several columns per run)
 */
export function createCompareChart(el, spec, series, { readRange, csv, flash, legend = false } = {}) {
  let current = spec;
  const offered = (s) => (readRange ? s.controls : { ...s.controls, x_axes: ["data"] });
  const fetchRange = readRange ? async (axis, from, to) => alignRuns(current, await readRange(current, axis, from, to)) : null;
  const toolbar = createChartToolbar({
    key: spec.name,
    offered: offered(spec),
    xLabel: spec.x_label,
    onChange: (state) => chart.setControls(state),
    onReset: () => chart.resetZoom(),
    onPng: async () => {
      const blob = await chart.png();
      if (blob) downloadBlob(fileName(spec.name, "png"), blob);
    },
    onCsv: csv ? () => csv(current).catch((e) => flash?.(`CSV: ${e.message}`)) : undefined,
  });
  const chart = createLineChart(el, { title: spec.name, xLabel: spec.x_label, series, legend, fetchRange });
  el.prepend(toolbar.el);
  chart.setControls(toolbar.state);
  chart.setData(spec.series.map((s) => ({ x: s.x, y: s.y })));

  /** The chart's lines as the comparison has them now. */
  function update(next, nextSeries) {
    current = next;
    toolbar.offer(offered(next));
    chart.setData(
      next.series.map((s) => ({ x: s.x, y: s.y })),
      nextSeries,
    );
  }

  return { el, chart, toolbar, update, destroy: () => chart.destroy() };
}
