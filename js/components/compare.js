// Runs side by side, drawn from the comparison the view model sends
// (runwidget/view/compare.py): a legend of the runs, one chart per metric with a line per
// run, last / min / max per run, and the runs' properties with differing rows marked.
// Every name and value is drawn as text.
import { h, replace } from "./dom.js";
import { formatValue, statusClass } from "./format.js";
import { createLineChart } from "../portal/chart.js";

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
 * Draw a comparison into `el`; call the returned `update(compare)` with each new one.
 * @param {HTMLElement} el
 */
export function createComparison(el) {
  let charts = [];
  function update(compare) {
    for (const chart of charts) chart.destroy();
    charts = [];
    const grid = h("div", { className: "rw-charts rw-compare-charts" });
    if (!compare.charts.length) grid.append(h("div", { className: "rw-empty", text: "These runs logged no charted metric." }));
    for (const spec of compare.charts) {
      const slot = h("div", { className: "rw-chart", dataset: { chart: spec.name } });
      const box = h("div", { className: "rw-compare-chart" }, slot, statsTable(spec));
      grid.append(box);
      const series = spec.series.map((s) => ({ label: s.label, colour: s.colour }));
      const chart = createLineChart(slot, { title: spec.name, xLabel: spec.x_label, series, legend: false });
      chart.setData(spec.series.map((s) => ({ x: s.x, y: s.y })));
      charts.push(chart);
    }
    replace(
      el,
      h("div", { className: "rw-title", text: `${compare.runs.length} runs side by side` }),
      legend(compare.runs),
      grid,
      h("div", { className: "rw-section-title", text: "Properties, tags and arguments" }),
      propertyTable(compare.runs, compare.table),
    );
    el.dataset.terminal = String(Boolean(compare.terminal));
  }
  return { update, destroy: () => charts.forEach((c) => c.destroy()) };
}
