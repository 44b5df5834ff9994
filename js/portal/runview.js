// A run drawn without a kernel: polls the view model from the REST API (deltas after the
// first snapshot), draws it with the same run page as the notebook widget, and its charts
// with uPlot. Used by the portal's run page and JupyterLab's run panel.
import { createRunPage, ITERATION_CHART_PREFIX } from "../page.js";
import { applyDelta } from "../state.js";
import { iterationLabels, iterationsCsv, sentIterationSeries } from "../components/iterations.js";
import { h } from "../components/dom.js";
import { createLineChart } from "./chart.js";
import { downloadBlob, fileName } from "../components/chartcontrols.js";

const POLL_MS = 5000;
const SLOW_POLL_MS = 30000; // after an error

/**
 * @param {object} options
 * @param {ReturnType<import("./api.js").createApi>} options.api
 * @param {string} options.runId
 * @param {(runId: string) => void} [options.onOpenRun] a child was opened (default: in place)
 * @param {() => boolean} [options.isVisible] polling pauses while this is false
 * @param {(header: object) => void} [options.onHeader] the run's header changed
 * @param {number} [options.pollMs]
 */
export function createRunView({ api, runId, onOpenRun, isVisible = () => !document.hidden, onHeader, pollMs = POLL_MS }) {
  const charts = new Map(); // chart id -> line chart
  let state = null;
  let epoch = null;
  let timer = null;
  let stopped = false;
  let inFlight = false;
  const trail = []; // [{run_id, name}] of the runs opened before this one

  const page = createRunPage({
    onOpenChild: (row) => (onOpenRun ? onOpenRun(row.id) : open(row.id, true)),
    onBack: (index) => {
      const target = trail[index];
      trail.splice(index);
      open(target.run_id, false);
    },
    onFullLog: () => window.open(api.logUrl(runId), "_blank", "noopener"),
    chartHost: {
      mount(chartId, slot, spec) {
        if (charts.has(chartId)) {
          slot.appendChild(charts.get(chartId).el);
          return true;
        }
        const holder = h("div", { className: "rw-uplot" });
        slot.appendChild(holder);
        const isIteration = chartId.startsWith(ITERATION_CHART_PREFIX);
        const chart = createLineChart(holder, {
          title: spec.title || spec.name || chartId,
          xLabel: isIteration ? "iteration" : spec.x_label,
          yLabel: spec.y_label || "",
          series: isIteration
            ? iterationLabels(spec.name).map((label, i) => (i === 0 ? { label, kind: "points", colour: spec.colours?.points } : { label, kind: "step", colour: spec.colours?.best }))
            : spec.series.map((s) => ({ label: s.label, colour: s.colour })),
          legend: false, // the page's legend shows and hides series
          fetchRange: isIteration ? null : (axis, from, to) => readRange(chartId, axis, from, to),
        });
        charts.set(chartId, chart);
        drawChart(chartId);
        return true;
      },
      setControls(chartId, controls) {
        charts.get(chartId)?.setControls(controls);
      },
      resetZoom(chartId) {
        charts.get(chartId)?.resetZoom();
      },
      async png(chartId) {
        const blob = await charts.get(chartId)?.png();
        if (blob) downloadBlob(fileName(specOf(chartId)?.name ?? iterationMetric(chartId) ?? chartId, "png"), blob);
      },
      async csv(chartId) {
        const metric = iterationMetric(chartId);
        if (metric !== null && state?.iterations) {
          // Every iteration is drawn: the chart's points are the whole series.
          downloadBlob(fileName(metric, "csv"), new Blob([iterationsCsv(state.iterations, metric)], { type: "text/csv;charset=utf-8" }));
          return;
        }
        const name = specOf(chartId)?.name;
        if (!name) return;
        try {
          downloadBlob(fileName(name, "csv"), await api.metricCsv(runId, name));
        } catch (e) {
          page.flash(`CSV of ${name}: ${e.message}`);
        }
      },
    },
  });
  const downloads = h("div", { className: "rw-downloads" });

  const specOf = (chartId) => state?.charts.find((c) => c.id === chartId);
  const iterationMetric = (chartId) => (chartId.startsWith(ITERATION_CHART_PREFIX) ? chartId.slice(ITERATION_CHART_PREFIX.length) : null);

  /** A chart's series from the store: on a time axis, or a zoomed range at full resolution. */
  async function readRange(chartId, axis, from, to) {
    const spec = specOf(chartId);
    if (!spec) return [];
    const answer = await api.series(runId, spec.name, { axis, from, to });
    const byId = new Map(answer.series.map((s) => [s.id, s]));
    return spec.series.map((s) => byId.get(s.id) ?? { x: [], y: [] });
  }
  const el = h("div", { className: "rw-kernelfree runwidget" }, page.el, downloads);

  function drawChart(chartId) {
    const chart = charts.get(chartId);
    if (!chart || !state) return;
    if (chartId.startsWith(ITERATION_CHART_PREFIX)) {
      const meta = state.iterations;
      if (!meta) return;
      const metric = chartId.slice(ITERATION_CHART_PREFIX.length);
      const data = sentIterationSeries(meta, metric);
      chart.setData([{ x: data.x, y: data.y }, { x: data.best_x, y: data.best_y }]);
      return;
    }
    const spec = state.charts.find((c) => c.id === chartId);
    if (!spec) return;
    chart.setData(
      spec.series.map((s) => ({ x: s.x, y: s.y })),
      spec.series.map((s) => ({ label: s.label, colour: s.colour })),
    );
  }

  function drawAllCharts(delta) {
    const touched = new Set();
    if (!delta) for (const id of charts.keys()) touched.add(id);
    else {
      for (const spec of delta.charts?.specs || []) touched.add(spec.id);
      for (const tail of delta.charts?.data || []) touched.add(tail.chart);
      if (delta.children || delta.iterations) for (const id of charts.keys()) if (id.startsWith(ITERATION_CHART_PREFIX)) touched.add(id);
    }
    for (const id of touched) drawChart(id);
  }

  async function renderDownloads() {
    try {
      const { files } = await api.files(runId);
      const links = [
        h("a", { href: api.logUrl(runId, true), text: "Download the full log", attrs: { download: "" } }),
        ...files
          .filter((f) => f.kind !== "image")
          .map((f) =>
            f.kind === "snapshot"
              ? h("a", { href: api.snapshotUrl(runId), text: "Download the snapshot (zip)", attrs: { download: "" } })
              : h("a", { href: api.fileUrl(runId, f.path), text: `${f.path} (${f.size} bytes)`, attrs: { download: "" } }),
          ),
      ];
      downloads.replaceChildren(h("h3", { className: "rw-section-title", text: "Files" }), h("ul", {}, links.map((a) => h("li", {}, a))));
    } catch (e) {
      downloads.replaceChildren(h("div", { className: "rw-notice rw-notice-warning", text: `Files: ${e.message}` }));
    }
  }

  async function poll() {
    timer = null;
    if (stopped) return;
    if (!isVisible()) {
      schedule(1000);
      return;
    }
    if (inFlight) return;
    inFlight = true;
    const asked = runId;
    let next = pollMs;
    try {
      const answer = await api.view(asked, epoch, state ? state.version : undefined);
      if (stopped || asked !== runId) return;
      if (answer.snapshot) {
        state = answer.snapshot;
        epoch = answer.epoch;
        page.update(state, { kind: "snapshot" }, { trail, polling: !state.terminal });
        drawAllCharts(null);
        if (onHeader) onHeader(state.header);
        renderDownloads();
      } else {
        for (const delta of answer.deltas) {
          if (delta.base !== state.version) throw new Error("missed a change");
          applyDelta(state, delta);
          page.update(state, { kind: "delta", delta }, { trail, polling: !state.terminal });
          drawAllCharts(delta);
          if (delta.header && onHeader) onHeader(state.header);
          if (delta.terminal) renderDownloads();
        }
      }
      el.dataset.status = state.header.status;
      if (state.terminal) {
        page.update(state, { kind: "context" }, { trail, polling: false });
        return; // the run and its children have ended: this was the last refresh
      }
    } catch (e) {
      if (asked !== runId) return;
      next = SLOW_POLL_MS;
      if (!state) {
        page.el.replaceChildren(h("div", { className: "rw-notice rw-notice-warning", text: `Cannot show run ${asked}: ${e.message}` }));
      } else page.flash(`Refresh failed: ${e.message}`);
      epoch = null; // ask for a whole snapshot next time
    } finally {
      inFlight = false;
    }
    schedule(next);
  }

  function schedule(ms) {
    if (!stopped && timer === null) timer = setTimeout(poll, ms);
  }

  /** Show another run here (a child, or back along the trail). */
  function open(id, remember) {
    if (remember && state) trail.push({ run_id: state.header.run_id, name: state.header.display_name });
    runId = id;
    state = null;
    epoch = null;
    for (const chart of charts.values()) chart.destroy();
    charts.clear();
    if (timer !== null) clearTimeout(timer);
    timer = null;
    inFlight = false;
    poll();
  }

  /** Poll now (e.g. the panel became visible again). */
  function refresh() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (!state || !state.terminal) poll();
  }

  function destroy() {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    for (const chart of charts.values()) chart.destroy();
    page.destroy();
  }

  poll();
  return { el, refresh, destroy, open, get runId() { return runId; }, get state() { return state; } };
}
