// AutoML and sweep iterations: the heat strip and the iterations table. The per-iteration
// series (points and a stepped best-so-far line) and the goal come from the view model.
import { h, replace } from "./dom.js";
import { formatDuration, formatTime, formatValue, runDuration } from "./format.js";
import { statusBadge } from "./children.js";
import { createTable } from "./table.js";
import { seriesCsv } from "./chartcontrols.js";

/**
 * The iteration chart of `metric` as the view model sent it: a point per iteration and the
 * stepped best-so-far line (`{x, y, best_x, best_y}`); empty when it sent none.
 * @param {import("../view-types.js").Iterations | null} meta
 * @param {string} metric
 * @returns {import("../view-types.js").IterationSeries}
 */
export function sentIterationSeries(meta, metric) {
  return meta?.series?.[metric] ?? { x: [], y: [], best_x: [], best_y: [] };
}

/** The labels of an iteration chart's two series (its legend's, its toolbar's hidden ones). */
export function iterationLabels(metric) {
  return [`${metric} per iteration`, "best so far"];
}

/** An iteration chart's points as CSV: every iteration's value and the best so far. */
export function iterationsCsv(meta, metric) {
  const data = sentIterationSeries(meta, metric);
  const [points, best] = iterationLabels(metric);
  return seriesCsv("iteration", [
    { label: points, x: data.x, y: data.y },
    { label: best, x: data.best_x, y: data.best_y },
  ]);
}

/** A cell's shade: 0 (worst finished iteration) to 1 (best), by the goal. */
export function scoreOf(value, low, high, goal) {
  if (typeof value !== "number" || low === null || high === null) return null;
  if (high === low) return 1;
  const t = (value - low) / (high - low);
  return goal === "minimize" ? 1 - t : t;
}

const STRIP_COLOURS = {
  waiting: "#bdbdbd",
  running: "#42a5f5",
  failed: "#e53935",
  canceled: "#fb8c00",
  warning: "#ab47bc",
};

function stripColour(row, score) {
  if (row.status_kind === "completed") {
    if (score === null) return "#a5d6a7";
    // Light to dark green as the score improves.
    return `hsl(122, 45%, ${Math.round(82 - score * 50)}%)`;
  }
  return STRIP_COLOURS[row.status_kind] ?? STRIP_COLOURS.waiting;
}

/** One cell per iteration: grey not started, blue running, green by score, red failed, orange canceled. */
export function createHeatStrip({ onOpen } = {}) {
  const cells = h("div", { className: "rw-strip-cells", attrs: { role: "list" } });
  const legend = h(
    "div",
    { className: "rw-strip-legend" },
    [
      ["waiting", "not started"],
      ["running", "running"],
      ["completed", "completed (darker is better)"],
      ["failed", "failed"],
      ["canceled", "canceled"],
    ].map(([kind, label]) =>
      h("span", {}, h("span", { className: "rw-swatch", style: { background: kind === "completed" ? "hsl(122,45%,45%)" : STRIP_COLOURS[kind] } }), label),
    ),
  );
  const el = h("div", { className: "rw-strip" }, cells, legend);
  function update(rows, meta) {
    const ordered = [...rows].sort((a, b) => (a.iteration ?? 0) - (b.iteration ?? 0) || a.number - b.number);
    const done = ordered.filter((r) => r.status_kind === "completed" && typeof r.metric === "number").map((r) => r.metric);
    const low = done.length ? Math.min(...done) : null;
    const high = done.length ? Math.max(...done) : null;
    replace(
      cells,
      ordered.map((row) => {
        const score = scoreOf(row.metric, low, high, meta?.goal);
        const title = `Iteration ${row.iteration}: ${row.status}` + (row.pipeline ? ` · ${row.pipeline}` : "") + (typeof row.metric === "number" ? ` · ${meta?.primary_metric} ${formatValue(row.metric)}` : "");
        return h("span", {
          className: "rw-strip-cell",
          title,
          attrs: { role: "listitem", "aria-label": title },
          dataset: { status: row.status, id: row.id },
          style: { background: stripColour(row, row.status_kind === "completed" ? score : null) },
          on: onOpen ? { click: () => onOpen(row) } : {},
        });
      }),
    );
  }
  return { el, update };
}

/** The iterations table, sorted by the goal (best first). */
export function createIterationsTable({ onOpen, now = () => Date.now() / 1000, pageSize = 10, onChange } = {}) {
  let meta = null;
  const table = createTable({
    columns: [],
    pageSize,
    onRowClick: onOpen,
    rowTitle: (r) => `Open ${r.id}`,
    className: "rw-iterations",
    onChange,
  });
  let sortedFor = null;
  function columns() {
    const cols = [{ key: "iteration", label: "Iteration", numeric: true }];
    if (meta.kind === "automl") cols.push({ key: "pipeline", label: "Pipeline" });
    for (const p of meta.params || []) {
      cols.push({ key: `param:${p}`, label: p, value: (r) => r.params?.[p] ?? null, render: (r) => formatValue(r.params?.[p]) });
    }
    cols.push(
      { key: "metric", label: meta.primary_metric || "metric", numeric: true, render: (r) => formatValue(r.metric) },
      { key: "best", label: "Best so far", numeric: true, render: (r) => formatValue(r.best) },
      { key: "status", label: "Status", render: (r) => statusBadge(r.status, r.status_kind) },
      {
        key: "duration",
        label: "Duration",
        numeric: true,
        value: (r) => runDuration(r.started, r.ended, now()),
        render: (r) => formatDuration(runDuration(r.started, r.ended, now())),
      },
      { key: "started", label: "Started", render: (r) => formatTime(r.started) },
    );
    return cols;
  }
  function update(rows, newMeta) {
    meta = newMeta;
    const key = `${meta.primary_metric}/${meta.goal}`;
    if (sortedFor !== key) {
      // Best first by the goal, until the user sorts otherwise.
      sortedFor = key;
      table.update(rows, columns());
      table.sort = { key: "metric", dir: meta.goal === "minimize" ? 1 : -1 };
      return;
    }
    table.update(rows, columns());
  }
  return { el: table.el, update, table };
}
