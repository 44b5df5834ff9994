// The child runs table: number, name, status, started, duration and metric columns.
// Clicking a row opens that run.
import { h } from "./dom.js";
import { formatDuration, formatTime, formatValue, runDuration, statusClass } from "./format.js";
import { createTable } from "./table.js";

/** A status, coloured by the colour family the view model sent with it (`status_kind`). */
export function statusBadge(status, kind) {
  return h("span", { className: `rw-badge ${statusClass(kind)}`, text: status });
}

/**
 * @param {object} [options]
 * @param {(row) => void} [options.onOpen]
 * @param {() => number} [options.now] seconds since the epoch, on the kernel's clock
 * @param {number} [options.pageSize]
 */
export function createChildrenTable({ onOpen, now = () => Date.now() / 1000, pageSize = 10, onChange } = {}) {
  const base = [
    { key: "number", label: "Run", numeric: true },
    { key: "name", label: "Name" },
    { key: "status", label: "Status", render: (r) => statusBadge(r.status, r.status_kind) },
    { key: "started", label: "Started", render: (r) => formatTime(r.started) },
    {
      key: "duration",
      label: "Duration",
      numeric: true,
      value: (r) => runDuration(r.started, r.ended, now()),
      render: (r) => formatDuration(runDuration(r.started, r.ended, now())),
    },
  ];
  const table = createTable({
    columns: base,
    pageSize,
    sort: { key: "number", dir: 1 },
    onRowClick: onOpen,
    rowTitle: (r) => `Open ${r.id}`,
    className: "rw-children",
    onChange,
  });
  function update(children) {
    const metricColumns = (children.columns || []).map((c) => ({
      key: `metric:${c.key}`,
      label: c.label,
      numeric: true,
      value: (r) => (typeof r.metrics?.[c.key] === "number" ? r.metrics[c.key] : r.metrics?.[c.key] ?? null),
      render: (r) => formatValue(r.metrics?.[c.key]),
    }));
    table.update(children.rows || [], [...base, ...metricColumns]);
  }
  return { el: table.el, update, table };
}
