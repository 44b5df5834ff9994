// The Compute page's table: each compute target, its kind and address, whether it answers,
// and its runs queued, running and ended, with a link to those runs. Every string the
// server sends (a target's name, address, problem) goes in as text.
import { h } from "../components/dom.js";
import { createTable } from "../components/table.js";

const COUNTS = [
  ["queued", "Queued"],
  ["running", "Running"],
  ["ended", "Ended"],
];

function reachability(t) {
  if (t.reachable) return h("span", { className: "rw-target-ok", text: "reachable" });
  return h(
    "span",
    { className: "rw-target-down" },
    h("span", { className: "rw-target-down-label", text: "unreachable" }),
    t.problem ? h("div", { className: "rw-target-problem", text: String(t.problem) }) : null,
  );
}

/**
 * @param {object} options
 * @param {(name: string) => string} options.runsLink the runs table filtered by a target
 */
export function createTargetsTable({ runsLink }) {
  const table = createTable({
    className: "rw-targets",
    pageSize: 50,
    empty: "No compute target.",
    columns: [
      { key: "name", label: "Target", render: (t) => h("a", { href: runsLink(t.name), text: t.name, className: "rw-target-name" }) },
      { key: "kind", label: "Kind", render: (t) => (t.kind == null ? "" : String(t.kind)) },
      { key: "address", label: "Address", render: (t) => (t.address == null ? "" : String(t.address)) },
      { key: "reachable", label: "State", value: (t) => (t.reachable ? 0 : 1), render: reachability },
      ...COUNTS.map(([key, label]) => ({ key, label, numeric: true, value: (t) => t.counts?.[key] ?? 0 })),
    ],
  });
  return {
    el: table.el,
    /** Draw the targets of a `GET targets` answer. */
    update(targets) {
      table.update(targets.map((t) => ({ ...t, id: t.name })));
    },
  };
}
