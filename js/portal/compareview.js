// Runs side by side as the server reads them (`GET compare`): each run with its colour, a
// link to its page and its status, then one chart per metric with a line per run, live
// while a run goes on. The portal's compare page, and a comparison output of a notebook
// reopened without its kernel (js/lab/reopen.js). Every user-written string goes in as text.
import { h, replace } from "../components/dom.js";
import { statusBadge } from "../components/children.js";
import { PALETTE } from "./chart.js";
import { createCompareChart, pruneCharts } from "../components/comparechart.js";
import { downloadBlob, fileName } from "../components/chartcontrols.js";

/**
 * The comparison of `ids` in `el`, read again by `load()` (each change event that concerns
 * its runs, or a timer) until every run has ended; a chart keeps its toolbar's state and
 * zoom across reads.
 * @param {HTMLElement} el
 * @param {object} options
 * @param {ReturnType<import("./api.js").createApi>} options.api
 * @param {string[]} options.ids
 * @param {(id: string) => string} options.runLink a run's page
 * @param {string} [options.linkTarget] where the links open ("_blank": a new tab)
 */
export function createCompareView(el, { api, ids, runLink, linkTarget }) {
  const charts = new Map(); // metric name -> compare chart
  let last = null; // the answer drawn
  let inFlight = null;
  const notice = h("div", { className: "rw-notice rw-notice-warning" });
  notice.hidden = true;
  const legendSlot = h("div");
  const grid = h("div", { className: "rw-charts rw-compare-charts" });
  const heading = h("h2");
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
  };
  replace(el, h("div", {}, "Loading…"));

  function draw(answer) {
    if (!last) replace(el, heading, legendSlot, notice, grid);
    heading.textContent = `Compare ${answer.runs.length} runs`;
    const names = new Map(answer.runs.map((r) => [r.id, r.name || r.id]));
    const colourOf = new Map(answer.runs.map((r, i) => [r.id, PALETTE[i % PALETTE.length]]));
    const link = (id) => h("a", { href: runLink(id), text: names.get(id), target: linkTarget, rel: linkTarget ? "noopener" : undefined });
    replace(
      legendSlot,
      h(
        "div",
        { className: "rw-compare-legend" },
        answer.runs.map((r) => h("span", { className: "rw-compare-key", dataset: { run: r.id } }, h("span", { className: "rw-swatch", style: { background: colourOf.get(r.id) } }), link(r.id), " ", statusBadge(r.status, r.status_kind))),
      ),
    );
    pruneCharts(grid, charts, answer.charts, (chart) => chart.el);
    for (const spec of answer.charts) {
      const series = spec.series.map((s) => ({ label: s.column ? `${names.get(s.run)} · ${s.column}` : names.get(s.run), colour: colourOf.get(s.run) }));
      let chart = charts.get(spec.name);
      if (chart) chart.update(spec, series);
      else {
        const slot = h("div", { className: "rw-chart", dataset: { chart: spec.name } });
        chart = createCompareChart(slot, spec, series, { ...host, legend: spec.series.some((s) => s.column) });
        charts.set(spec.name, chart);
      }
      grid.append(chart.el); // in the answer's order
    }
    el.dataset.terminal = String(Boolean(answer.terminal));
  }

  /** Read the runs again and draw what changed; resolves to the answer (it throws when the
   * server refuses, e.g. an unknown run). */
  async function load() {
    if (last?.terminal) return last;
    if (!inFlight) {
      inFlight = api
        .compare(ids)
        .then((answer) => {
          if (answer !== last) draw(answer); // the same answer again: the server said 304
          last = answer;
          return answer;
        })
        .finally(() => (inFlight = null));
    }
    return inFlight;
  }

  function destroy() {
    for (const chart of charts.values()) chart.destroy();
    charts.clear();
  }

  return { el, load, refresh: () => load().catch((e) => host.flash(`Refresh failed: ${e.message}`)), destroy, runIds: ids, get terminal() { return Boolean(last?.terminal); } };
}
