// Runs side by side, drawn from the comparison the view model sends
// (runwidget/view/compare.py): a legend of the runs, one chart per metric with a line per
// run, last / min / max per run, and the runs' properties with differing rows marked.
// Every name and value is drawn as text. `applyCompareDelta` merges what the kernel sends
// after the first comparison (the view model's delta) into it.
import { h, replace } from "./dom.js";
import { formatValue, statusClass } from "./format.js";
import { createCompareChart, pruneCharts } from "./comparechart.js";

function legend(runs) {
  return h(
    "div",
    { className: "rw-compare-legend" },
    runs.map((r) =>
      h(
        "span",
        { className: "rw-compare-key", dataset: { runId: r.id } },
        h("span", { className: "rw-swatch", style: { background: r.colour } }),
        h("span", { className: "rw-compare-name", text: r.name, title: r.id }),
        " ",
        h("span", { className: `rw-badge ${statusClass(r.status_kind)}`, text: r.status }),
      ),
    ),
  );
}

function statsTable(chart) {
  return h(
    "table",
    { className: "rw-table rw-compare-stats" },
    h("thead", {}, h("tr", {}, ["run", "last", "min", "max", "points"].map((t) => h("th", { text: t })))),
    h(
      "tbody",
      {},
      chart.stats.map((s) =>
        h("tr", {}, h("td", { text: s.label }), ...[s.last, s.min, s.max].map((v) => h("td", { text: v === null ? "" : formatValue(v) })), h("td", { text: String(s.count) })),
      ),
    ),
  );
}

function propertyTable(runs, rows) {
  if (!rows.length) return h("div", { className: "rw-empty", text: "No properties." });
  const onlyDiffering = h("input", { type: "checkbox", className: "rw-compare-only" });
  const body = h("tbody");
  const draw = () => {
    replace(
      body,
      ...rows
        .filter((r) => !onlyDiffering.checked || r.differs)
        .map((r) =>
          h(
            "tr",
            { className: r.differs ? "rw-differs" : "", dataset: { group: r.group } },
            h("th", { text: r.name, title: r.group }),
            ...r.values.map((v) => h("td", { text: v })),
          ),
        ),
    );
  };
  onlyDiffering.addEventListener("change", draw);
  draw();
  return h(
    "div",
    { className: "rw-compare-properties" },
    h("label", { className: "rw-compare-filter" }, onlyDiffering, " only rows that differ"),
    h("table", { className: "rw-table" }, h("thead", {}, h("tr", {}, h("th", { text: "" }), ...runs.map((r) => h("th", { text: r.name, title: r.id })))), body),
  );
}

/**
 * Merge a comparison delta into `compare` (the same rules as runwidget/view/compare.py
 * apply_compare_delta): the runs that changed, charts that came or whose lines changed
 * (without their points: a line of the chart before keeps its own), new points of a line
 * (`start` points kept), stats rows, the properties table. A chart that did not change
 * stays the same object (its chart is not drawn again). Returns the new comparison;
 * `compare` is left as it is.
 * @param {object} compare the comparison at version `delta.base`
 * @param {object} delta
 * @returns {object}
 * @throws {Error} when delta.base is not compare.version
 */
export function applyCompareDelta(compare, delta) {
  if (delta.base !== compare.version) {
    throw new Error(`delta from version ${delta.base} cannot apply to version ${compare.version}`);
  }
  const out = { ...compare, version: delta.version };
  if (delta.runs) {
    const changed = new Map(delta.runs.map((r) => [r.id, r]));
    out.runs = compare.runs.map((r) => changed.get(r.id) ?? r);
  }
  const charts = new Map(compare.charts.map((c) => [c.name, c]));
  const key = (line) => `${line.run}\u0000${line.id}`;
  for (const spec of delta.charts ?? []) {
    // A new chart, or new lines or toolbar: a line of the chart before keeps its points.
    const lines = new Map((charts.get(spec.name)?.series ?? []).map((s) => [key(s), s]));
    const series = spec.series.map((s) => ({ ...s, x: lines.get(key(s))?.x ?? [], y: lines.get(key(s))?.y ?? [] }));
    charts.set(spec.name, { ...spec, series });
  }
  const touched = new Map(); // name -> a copy of the chart, changed in place here
  const copyOf = (name) => {
    if (!touched.has(name)) {
      const chart = charts.get(name);
      touched.set(name, { ...chart, series: [...chart.series], stats: [...chart.stats] });
    }
    return touched.get(name);
  };
  for (const tail of delta.series ?? []) {
    const chart = copyOf(tail.chart);
    const line = chart.series[tail.index];
    chart.series[tail.index] = {
      ...line,
      x: line.x.slice(0, tail.start).concat(Array.from(tail.x)),
      y: line.y.slice(0, tail.start).concat(Array.from(tail.y)),
    };
  }
  for (const stat of delta.stats ?? []) copyOf(stat.chart).stats[stat.index] = stat.row;
  for (const [name, chart] of touched) charts.set(name, chart);
  out.charts = (delta.order ?? compare.charts.map((c) => c.name)).map((name) => charts.get(name));
  if ("table" in delta) out.table = delta.table;
  if ("terminal" in delta) out.terminal = delta.terminal;
  return out;
}

/**
 * Draw a comparison into `el`; call the returned `update(compare)` with each new one. A
 * chart stays (its toolbar's state and zoom with it) while the comparison changes.
 * @param {HTMLElement} el
 * @param {Parameters<typeof createCompareChart>[3]} [host] where the charts read again
 */
export function createComparison(el, host = {}) {
  const charts = new Map(); // metric name -> compare chart
  const grid = h("div", { className: "rw-charts rw-compare-charts" });
  const title = h("div", { className: "rw-title" });
  const legendSlot = h("div");
  const properties = h("div");
  const notice = h("div", { className: "rw-notice rw-notice-warning" });
  notice.hidden = true;
  let table = null;
  el.append(title, notice, legendSlot, grid, h("div", { className: "rw-section-title", text: "Properties, tags and arguments" }), properties);
  const flash = (text) => {
    notice.textContent = text;
    notice.hidden = false;
    setTimeout(() => (notice.hidden = true), 8000);
  };

  function update(compare) {
    title.textContent = `${compare.runs.length} runs side by side`;
    replace(legendSlot, legend(compare.runs));
    pruneCharts(grid, charts, compare.charts, (chart) => chart.box);
    for (const spec of compare.charts) {
      const series = spec.series.map((s) => ({ label: s.label, colour: s.colour }));
      let chart = charts.get(spec.name);
      if (chart?.spec === spec) {
        grid.append(chart.box); // unchanged (a delta of other charts): not drawn again
        continue;
      }
      if (chart) chart.update(spec, series);
      else {
        const slot = h("div", { className: "rw-chart", dataset: { chart: spec.name } });
        chart = createCompareChart(slot, spec, series, { ...host, flash });
        chart.stats = h("div");
        chart.box = h("div", { className: "rw-compare-chart" }, slot, chart.stats);
        charts.set(spec.name, chart);
      }
      chart.spec = spec;
      replace(chart.stats, statsTable(spec));
      grid.append(chart.box); // in the comparison's order
    }
    const rows = JSON.stringify([compare.runs.map((r) => r.name), compare.table]);
    if (rows !== table) {
      table = rows;
      replace(properties, propertyTable(compare.runs, compare.table));
    }
    el.dataset.terminal = String(Boolean(compare.terminal));
  }
  return {
    update,
    destroy: () => {
      for (const chart of charts.values()) chart.destroy();
      charts.clear();
    },
  };
}
