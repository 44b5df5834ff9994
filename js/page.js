// The run page: every component of a run's details laid out in one element. It knows
// nothing of anywidget: a host (the notebook widget, a sidebar, a portal page) gives it the
// view-model state and callbacks, and mounts charts into the slots it offers.
import { h, replace } from "./components/dom.js";
import { createHeader } from "./components/header.js";
import { createProperties } from "./components/properties.js";
import { createErrorBanner, createNotices } from "./components/notices.js";
import { createAlertBanner } from "./components/alerts.js";
import { createChildrenTable } from "./components/children.js";
import { createHeatStrip, createIterationsTable, iterationLabels } from "./components/iterations.js";
import { createParallelCoordinates } from "./components/parcoords.js";
import { createLogView } from "./components/logview.js";
import { createGallery } from "./components/gallery.js";
import { createPlots } from "./components/plots.js";
import { ITERATION_COLOURS, PALETTE } from "./components/palette.js";
import { createChartToolbar } from "./components/chartcontrols.js";

export const ITERATION_CHART_PREFIX = "it:";

function section(title, ...children) {
  const heading = h("h3", { className: "rw-section-title", text: title });
  const el = h("section", { className: "rw-section" }, heading, ...children);
  el.hidden = true;
  return { el, heading };
}

/**
 * @param {object} [options]
 * @param {(row: object) => void} [options.onOpenChild] a child run was clicked
 * @param {(index: number) => void} [options.onBack] a trail entry was clicked
 * @param {() => void} [options.onFullLog] "Open full log" was clicked
 * @param {{mount: (chartId: string, slot: HTMLElement, spec: object) => boolean}} [options.chartHost]
 *   draws the chart `chartId` into `slot`; returns false when it cannot yet (asked again later).
 *   A host that also has `setControls(chartId, state)` gets a toolbar over each chart whose spec
 *   has `controls` (and `resetZoom`, `png`, `csv` buttons for the methods it has; `xAxes` lists
 *   the x axes it can draw) and a legend that shows and hides series.
 * @param {number} [options.maxLines] log lines kept
 * @param {() => number} [options.now] seconds since the epoch
 * @param {(ui: object) => void} [options.onUiChange] the reader sorted, paged, picked a metric
 *   or scrolled the log; `restoreUi` puts such a state back (a host keeps it across re-renders)
 */
export function createRunPage({ onOpenChild, onBack, onFullLog, chartHost, maxLines = 1000, now = () => Date.now() / 1000, onUiChange } = {}) {
  let skew = 0;
  const ui = {};
  const changed = (key) => (value) => {
    ui[key] = value;
    if (onUiChange) onUiChange({ ...ui });
  };
  const kernelNow = () => now() + skew;
  const header = createHeader({ onBack, now });
  const error = createErrorBanner();
  const alertBanner = createAlertBanner();
  const notices = createNotices();
  const transient = h("div", { className: "rw-notices" });
  const properties = createProperties();
  const propsSection = section("Properties", properties.el);

  const strip = createHeatStrip({ onOpen: onOpenChild });
  const metricSelect = h("select", { className: "rw-metric-select", attrs: { "aria-label": "Metric" } });
  const iterationSlots = h("div", { className: "rw-iteration-charts" });
  const parcoords = createParallelCoordinates();
  const iterTable = createIterationsTable({ onOpen: onOpenChild, now: kernelNow, onChange: changed("iterations") });
  const best = h("div", { className: "rw-best" });
  const iterSection = section(
    "Iterations",
    best,
    strip.el,
    h("div", { className: "rw-chart-bar" }, h("label", {}, "Metric ", metricSelect)),
    iterationSlots,
    parcoords.el,
    iterTable.el,
  );

  const chartGrid = h("div", { className: "rw-charts" });
  // System metrics (CPU, memory, GPUs...), in a section of their own that folds away.
  const systemGrid = h("div", { className: "rw-charts" });
  const systemSection = {
    el: h("details", { className: "rw-section rw-system", open: true }, h("summary", { className: "rw-section-title", text: "System" }), systemGrid),
  };
  systemSection.el.hidden = true;
  systemSection.el.addEventListener("toggle", () => changed("systemOpen")(systemSection.el.open));
  const plots = createPlots();
  const chartSection = section("Metrics", chartGrid, plots.el);
  const gallery = createGallery();
  const gallerySection = section("Images", gallery.el);
  const children = createChildrenTable({ onOpen: onOpenChild, now: kernelNow, onChange: changed("children") });
  const childSection = section("Child runs", children.el);
  const log = createLogView({ maxLines, onFullLog, onChange: changed("log") });
  const logSection = section("Output", log.el);

  const el = h(
    "div",
    { className: "rw-page" },
    header.el,
    error.el,
    alertBanner.el,
    notices.el,
    transient,
    propsSection.el,
    iterSection.el,
    chartSection.el,
    systemSection.el,
    gallerySection.el,
    childSection.el,
    logSection.el,
  );

  let runId = null;
  const slots = new Map(); // chart id -> {el, mounted}
  let selectedMetric = null;

  function slotFor(chartId, parent, spec) {
    let slot = slots.get(chartId);
    if (!slot) {
      const legend = h("div", { className: "rw-legend" });
      const host = h("div", { className: "rw-chart-host" });
      slot = { el: h("div", { className: "rw-chart", dataset: { chart: chartId } }, legend, host), legend, host, mounted: false, key: null };
      if (chartHost?.setControls && spec?.controls) slot.toolbar = chartToolbar(chartId, slot, spec);
      slots.set(chartId, slot);
    }
    if (slot.el.parentNode !== parent) parent.appendChild(slot.el);
    if (!slot.mounted && chartHost) {
      slot.mounted = chartHost.mount(chartId, slot.host, spec) !== false;
      if (slot.mounted && slot.toolbar) chartHost.setControls(chartId, slot.toolbar.state);
    }
    return slot;
  }

  /** Smoothing, log y, x axis, zoom reset, PNG and CSV over a chart the host can set so. */
  function chartToolbar(chartId, slot, spec) {
    const call = (name) => (chartHost[name] ? () => chartHost[name](chartId) : undefined);
    const toolbar = createChartToolbar({
      key: spec.key || spec.name || chartId,
      offered: hostOffer(spec.controls),
      xLabel: spec.x_label,
      onChange: (state) => {
        markHidden(slot);
        if (slot.mounted) chartHost.setControls(chartId, state);
      },
      onReset: call("resetZoom"),
      onPng: call("png"),
      onCsv: call("csv"),
    });
    slot.el.insertBefore(toolbar.el, slot.legend);
    return toolbar;
  }

  // What the view model offers, less the x axes the host cannot draw (`chartHost.xAxes`).
  function hostOffer(controls) {
    const axes = chartHost?.xAxes;
    return controls && axes ? { ...controls, x_axes: (controls.x_axes || ["data"]).filter((a) => axes.includes(a)) } : controls;
  }

  function markHidden(slot) {
    const hidden = slot.toolbar ? slot.toolbar.state.hidden : [];
    for (const item of slot.legend.children) item.classList.toggle("rw-legend-off", hidden.includes(item.dataset.label));
  }

  /** A legend of coloured labels, drawn once per change of the labels. */
  function setLegend(slot, entries) {
    const key = JSON.stringify(entries);
    if (slot.key === key) return;
    slot.key = key;
    replace(
      slot.legend,
      entries.map(([label, colour, mark]) =>
        slot.toolbar
          ? h(
              "button",
              { className: "rw-legend-item rw-legend-toggle", dataset: { label }, title: "Show or hide this series", attrs: { type: "button" }, on: { click: () => slot.toolbar.toggle(label) } },
              h("span", { className: `rw-legend-${mark}`, style: { background: colour } }),
              label,
            )
          : h("span", { className: "rw-legend-item" }, h("span", { className: `rw-legend-${mark}`, style: { background: colour } }), label),
      ),
    );
    slot.legend.hidden = entries.length === 0;
    markHidden(slot);
  }

  function reset() {
    slots.clear();
    replace(chartGrid);
    replace(systemGrid);
    replace(iterationSlots);
    selectedMetric = null;
  }

  function renderCharts(state) {
    chartSection.el.hidden = state.charts.length === 0 && !(state.plots && state.plots.length);
    const system = state.charts.filter((spec) => spec.section === "system").length;
    systemSection.el.hidden = system === 0;
    if (system && system === state.charts.length && !(state.plots || []).length) chartSection.el.hidden = true;
    for (const spec of state.charts) {
      const slot = slotFor(spec.id, spec.section === "system" ? systemGrid : chartGrid, spec);
      if (slot.toolbar) slot.toolbar.offer(hostOffer(spec.controls));
      setLegend(slot, spec.series.length > 1 ? spec.series.map((s, i) => [s.label, s.colour ?? PALETTE[i % PALETTE.length], "line"]) : []);
      const skipped = spec.series.reduce((n, s) => n + (s.skipped || 0), 0);
      slot.el.title = skipped ? `${skipped} values (NaN or infinite) not drawn` : "";
      if (!chartHost) {
        // Without a chart host, say what would be drawn.
        const points = spec.series.reduce((n, s) => n + (s.count || 0), 0);
        replace(slot.host, h("div", { className: "rw-chart-placeholder", text: `${spec.title}: ${points} points` }));
      }
    }
  }

  function renderIterations(state) {
    const meta = state.iterations;
    iterSection.el.hidden = !meta;
    if (!meta) return;
    const rows = state.children.rows;
    iterSection.heading.textContent = meta.kind === "sweep" ? "Sweep trials" : "AutoML iterations";
    replace(
      best,
      meta.best
        ? [
            `Best ${meta.primary_metric} (${meta.goal}): `,
            h("strong", { text: String(Number(meta.best.value.toPrecision(6))) }),
            ` at iteration ${meta.best.iteration}`,
          ]
        : meta.primary_metric
          ? `Primary metric: ${meta.primary_metric} (${meta.goal})`
          : "",
    );
    strip.update(rows, meta);
    iterTable.update(rows, meta);
    const metrics = meta.metrics || [];
    if (!metrics.includes(selectedMetric)) selectedMetric = metrics[0] ?? null;
    const options = metrics.join("\u0000");
    if (metricSelect.dataset.options !== options) {
      metricSelect.dataset.options = options;
      replace(metricSelect, metrics.map((m) => h("option", { value: m, text: m })));
    }
    metricSelect.value = selectedMetric ?? "";
    metricSelect.parentNode.parentNode.hidden = metrics.length < 2;
    for (const metric of metrics) {
      const colours = meta.colours ?? ITERATION_COLOURS;
      const id = ITERATION_CHART_PREFIX + metric;
      const controls = meta.controls?.[metric];
      const slot = slotFor(id, iterationSlots, { id, key: id, name: metric, title: metric, x_label: "iteration", colours, controls });
      if (slot.toolbar) slot.toolbar.offer(hostOffer(controls));
      const [pointsLabel, bestLabel] = iterationLabels(metric);
      setLegend(slot, [
        [pointsLabel, colours.points, "dot"],
        [bestLabel, colours.best, "line"],
      ]);
      slot.el.hidden = metric !== selectedMetric;
    }
    if (meta.kind === "sweep") parcoords.update(rows, meta);
    else parcoords.update([], null);
  }

  function showMetric(metric) {
    selectedMetric = metric;
    metricSelect.value = metric;
    for (const [id, slot] of slots) {
      if (id.startsWith(ITERATION_CHART_PREFIX)) slot.el.hidden = id !== ITERATION_CHART_PREFIX + selectedMetric;
    }
  }
  metricSelect.addEventListener("change", () => {
    showMetric(metricSelect.value);
    changed("metric")(selectedMetric);
  });

  /** Put back the reader's sort orders, pages, metric, log position and folded System section. */
  function restoreUi(saved) {
    if (!saved) return;
    Object.assign(ui, saved);
    if (saved.children) children.table.restore(saved.children);
    if (saved.iterations) iterTable.table.restore(saved.iterations);
    if (saved.metric && [...metricSelect.options].some((o) => o.value === saved.metric)) showMetric(saved.metric);
    if (saved.log) log.restore(saved.log);
    if (typeof saved.systemOpen === "boolean") systemSection.el.open = saved.systemOpen;
  }

  /**
   * Draw `state`. `change` says what happened: {kind: "snapshot"} or {kind: "delta", delta}.
   */
  function update(state, change = { kind: "snapshot" }, { trail = [], polling = null } = {}) {
    if (!state || !state.header) return;
    // The kernel's clock, from what was just sent (a restored view's time is older).
    if (change.kind === "delta" && typeof state.time === "number") skew = state.time - now();
    if (state.header.run_id !== runId) {
      runId = state.header.run_id;
      reset();
      change = { kind: "snapshot" };
    }
    el.dataset.runId = state.header.run_id;
    el.dataset.version = state.version;
    // A delta redraws only the parts it changes (a thousand-row table is not redrawn
    // because a log line came).
    const delta = change.kind === "delta" ? change.delta : null;
    const changed = (...keys) => !delta || keys.some((key) => key in delta);
    header.update(state.header, { time: change.kind === "delta" ? state.time : undefined, trail, polling });
    if (changed("error")) error.update(state.error);
    if (changed("alerts")) alertBanner.update(state.alerts);
    if (changed("notices")) notices.update(state.notices);
    if (changed("properties")) {
      properties.update(state.properties);
      propsSection.el.hidden = !state.properties || state.properties.length === 0;
    }
    if (changed("iterations", "children")) renderIterations(state);
    if (changed("charts", "plots")) renderCharts(state);
    if (changed("plots")) plots.update(state.plots);
    if (changed("images")) {
      gallery.update(state.images);
      gallerySection.el.hidden = state.images.length === 0;
    }
    const rows = state.children.rows;
    childSection.el.hidden = rows.length === 0 || !!state.iterations;
    if (!childSection.el.hidden && changed("children")) children.update(state.children);
    if (change.kind === "delta" && change.delta.log) log.append(change.delta.log.append, change.delta.log.total);
    else if (change.kind === "snapshot") log.setLines(state.log.lines, state.log.total);
    // A run that writes no output (interactive, AutoML parent) gets no empty log box.
    logSection.el.hidden = state.log.total === 0 && (state.header.type !== "script" || !!state.terminal);
  }

  /** Refresh the chart slots (the host has new charts to mount). */
  function remount(state) {
    if (!state || !state.header) return;
    renderIterations(state);
    renderCharts(state);
  }

  /** A short message that goes away by itself. */
  function flash(text, level = "warning") {
    const note = h("div", { className: `rw-notice rw-notice-${level}`, text });
    transient.appendChild(note);
    setTimeout(() => note.remove(), 8000);
  }

  function destroy() {
    header.destroy();
  }

  return { el, update, remount, restoreUi, flash, destroy, log, slots };
}
