// Runs side by side as the server reads them (`GET compare`): each run with its colour, a
// link to its page and its status, then one chart per metric with a line per run. The
// portal's compare page, and a comparison output of a notebook reopened without its kernel
// (js/lab/reopen.js). Every user-written string goes in as text.
import { h, replace } from "../components/dom.js";
import { statusBadge } from "../components/children.js";
import { PALETTE } from "./chart.js";
import { createCompareChart } from "../components/comparechart.js";
import { downloadBlob, fileName } from "../components/chartcontrols.js";

/**
 * Draw the comparison of `ids` into `el`; resolves to the view's `destroy`.
 * @param {HTMLElement} el
 * @param {object} options
 * @param {ReturnType<import("./api.js").createApi>} options.api
 * @param {string[]} options.ids
 * @param {(id: string) => string} options.runLink a run's page
 * @param {string} [options.linkTarget] where the links open ("_blank": a new tab)
 * @param {(answer: object) => void} [options.onAnswer] told the server's answer
 * @returns {Promise<() => void>}
 */
export async function drawCompare(el, { api, ids, runLink, linkTarget, onAnswer }) {
  const charts = [];
  const destroy = () => {
    for (const chart of charts.splice(0)) chart.destroy();
  };
  replace(el, h("div", {}, "Loading…"));
  let answer;
  try {
    answer = await api.compare(ids);
  } catch (e) {
    replace(el, h("div", { className: "rw-notice rw-notice-warning", text: e.message || String(e) }));
    return destroy;
  }
  onAnswer?.(answer);
  const names = new Map(answer.runs.map((r) => [r.id, r.name || r.id]));
  const link = (id) => h("a", { href: runLink(id), text: names.get(id), target: linkTarget, rel: linkTarget ? "noopener" : undefined });
  const legend = h(
    "div",
    { className: "rw-compare-legend" },
    answer.runs.map((r, i) =>
      h("span", { className: "rw-compare-key", dataset: { run: r.id } }, h("span", { className: "rw-swatch", style: { background: PALETTE[i % PALETTE.length] } }), link(r.id), " ", statusBadge(r.status, r.status_kind)),
    ),
  );
  const grid = h("div", { className: "rw-charts rw-compare-charts" });
  replace(el, h("h2", { text: `Compare ${answer.runs.length} runs` }), legend, grid);
  if (answer.charts.length === 0) grid.append(h("div", { className: "rw-empty", text: "These runs logged no charted metric." }));
  const colourOf = new Map(answer.runs.map((r, i) => [r.id, PALETTE[i % PALETTE.length]]));
  const notice = h("div", { className: "rw-notice rw-notice-warning" });
  notice.hidden = true;
  grid.before(notice);
  const host = {
    // Each run's series read again from the store, as its own page's chart does.
    async readRange(spec, axis, from, to) {
      const runs = [...new Set(spec.series.map((s) => s.run))];
      const answers = await Promise.all(runs.map((id) => api.series(id, spec.name, { axis, from, to })));
      return answers.flatMap((a, i) => a.series.map((s) => ({ ...s, run: runs[i] })));
    },
    async csv(spec) {
      const runs = [...new Set(spec.series.map((s) => s.run))];
      downloadBlob(fileName(spec.name, "csv"), await api.compareCsv(runs, spec.name));
    },
    flash(text) {
      notice.textContent = text;
      notice.hidden = false;
    },
    legend: false,
  };
  for (const spec of answer.charts) {
    const slot = h("div", { className: "rw-chart", dataset: { chart: spec.name } });
    grid.append(slot);
    const series = spec.series.map((s) => ({ label: s.column ? `${names.get(s.run)} · ${s.column}` : names.get(s.run), colour: colourOf.get(s.run) }));
    charts.push(createCompareChart(slot, spec, series, { ...host, legend: spec.series.some((s) => s.column) }));
  }
  return destroy;
}
