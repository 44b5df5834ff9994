// The notebook widget (anywidget): keeps the view-model state of a RunDetails model, applies
// the deltas the kernel sends, and draws it with the run page. Charts are the kernel's bqplot
// figures, embedded in the page. Their points are the view model's, and this is their only
// writer: the whole view (the _snapshot state, series as binary buffers) and then each
// delta's new points go into the lines here; the kernel leaves its lines empty.
import { createRunPage } from "./page.js";
import { applyDelta, spliceSeries } from "./state.js";
import { sentIterationSeries } from "./components/iterations.js";
import { createFigureControls } from "./widgetcharts.js";
import { float64s, unpackTails } from "./binary.js";
import "./widget.css";

// anywidget hands initialize() and each render() a different proxy of one model: key the
// shared state by the widget's own id.
const STORES = new Map();

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** One store per model: every view of the widget draws the same state. */
function storeFor(model) {
  const key = model.get("_uid");
  let store = STORES.get(key);
  if (store) return store;
  const listeners = new Set();
  let chain = Promise.resolve(); // series updates, in order
  store = {
    state: null,
    // Where the reader was (sort, page, metric, log position), kept for the next view: the
    // output is drawn anew when the kernel updates the notebook's static summary.
    ui: {},
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    emit(change) {
      for (const fn of listeners) fn(store.state, change);
    },
    /** Take the whole view from the model, its series points into the chart lines. */
    loadSnapshot() {
      const { state, tails } = splitSeries(model.get("_snapshot"));
      store.state = state;
      for (const tail of tails) store.queueSeries(tail);
    },
    onSnapshot() {
      store.resyncing = false;
      store.loadSnapshot();
      store.emit({ kind: "snapshot" });
      store.syncIterations();
    },
    onDelta(delta) {
      const state = store.state;
      if (!state || delta.version <= state.version) return; // already have it
      if (delta.base !== state.version) {
        // A delta was missed (the page was reloaded while the run went on): ask for the
        // whole view, which comes as soon as the kernel is free.
        if (!store.resyncing) {
          store.resyncing = true;
          model.send({ type: "resync" });
          store.emit({ kind: "error", text: "Some updates were missed: the whole view comes when the kernel answers." });
        }
        return;
      }
      const tails = [];
      applyDelta(state, delta, { onSeries: (tail) => tails.push(tail) });
      for (const tail of tails) store.queueSeries(tail);
      store.emit({ kind: "delta", delta });
      if (delta.children || delta.iterations) store.syncIterations();
    },
    queueSeries(tail) {
      chain = chain.then(async () => {
        const ids = model.get("_charts")?.[tail.chart]?.series?.[tail.series];
        if (!ids) return;
        const line = await model.widget_manager.get_model(ids);
        line.set({ x: spliceSeries(line.get("x"), tail.start, tail.x), y: spliceSeries(line.get("y"), tail.start, tail.y) });
        store.figures.seriesChanged(tail.chart);
      }).catch((e) => console.warn("runwidget: could not update a chart", e));
    },
    syncIterations() {
      const state = store.state;
      const meta = state && state.iterations;
      if (!meta) return;
      for (const metric of meta.metrics || []) {
        const ids = model.get("_charts")?.[`it:${metric}`]?.series;
        if (!ids) continue;
        const data = sentIterationSeries(meta, metric);
        chain = chain.then(async () => {
          const points = await model.widget_manager.get_model(ids.points);
          const best = await model.widget_manager.get_model(ids.best);
          points.set({ x: Float64Array.from(data.x), y: Float64Array.from(data.y) });
          best.set({ x: Float64Array.from(data.best_x), y: Float64Array.from(data.best_y) });
        }).catch((e) => console.warn("runwidget: could not update the iterations chart", e));
      }
    },
    onMessage(msg, buffers) {
      if (!msg || typeof msg !== "object") return;
      if (store.figures.onMessage(msg, buffers)) return;
      if (msg.type === "delta") store.onDelta(unpackSeries(msg.delta, buffers));
      else if (msg.type === "full_log") store.emit({ kind: "full_log", msg, buffers });
      else if (msg.type === "error") store.emit({ kind: "error", text: msg.text });
    },
  };
  // Smoothing, log y, zoom and the rest, on the figures (js/widgetcharts.js).
  store.figures = createFigureControls(model, () => store.state);
  store.loadSnapshot();
  STORES.set(key, store);
  return store;
}

/**
 * A view snapshot as the kernel sends it, split into the state kept here (series without
 * their points, as deltas keep it) and each series' points, as tails from the start.
 */
export function splitSeries(snapshot) {
  const tails = [];
  if (!snapshot || !Array.isArray(snapshot.charts)) return { state: clone(snapshot), tails };
  const charts = snapshot.charts.map((chart) => ({
    ...chart,
    series: (chart.series || []).map(({ x, y, ...rest }) => {
      if (x !== undefined) tails.push({ chart: chart.id, series: rest.id, start: 0, x: float64s(x), y: float64s(y) });
      return rest;
    }),
  }));
  return { state: clone({ ...snapshot, charts }), tails };
}

/** Long series tails come as binary buffers: {"buffer": i} stands for buffers[i] (float64). */
export function unpackSeries(delta, buffers) {
  unpackTails(delta?.charts?.data ?? [], buffers);
  return delta;
}

/** Load the chart library's front end ahead of the first chart (it is big). */
function preloadCharts(model) {
  const load = () => {
    const spec = model.get("_chart_module");
    const manager = model.widget_manager;
    if (!spec?.module || typeof manager?.loadModelClass !== "function") return;
    manager.loadModelClass(spec.model, spec.module, spec.version).catch(() => {});
  };
  load();
  model.on("change:_chart_module", load);
}

async function mountFigure(model, chartId, slot, views) {
  const ids = model.get("_charts")?.[chartId];
  if (!ids) return false;
  const figure = await model.widget_manager.get_model(ids.figure);
  const view = await model.widget_manager.create_view(figure);
  slot.appendChild(view.el);
  view.trigger("displayed");
  views.push(view);
  fewerTicks(view);
  return view;
}

// bqplot asks d3 for its default of ten ticks, too many for a small chart, and its
// num_ticks gives unrounded values. Ask d3 for fewer (still round) ticks; if bqplot's
// internals differ, its own ticks stay.
async function fewerTicks(figureView) {
  try {
    // The figure draws its axes after an asynchronous render: wait for them (at most 5 s).
    for (let i = 0; i < 50 && !(figureView.axis_views?.views?.length > 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const axes = await Promise.all(figureView.axis_views?.views ?? []);
    for (const axis of axes) {
      const scale = axis?.axis_scale?.scale;
      if (!scale || typeof scale.ticks !== "function" || scale.rwFewerTicks) continue;
      const ticks = scale.ticks.bind(scale);
      const count = axis.vertical ? 5 : 6;
      scale.ticks = (n) => ticks(n ?? count);
      scale.rwFewerTicks = true;
      axis.redraw_axisline?.();
    }
  } catch (e) {
    console.debug("runwidget: bqplot ticks left as they are", e);
  }
}

function openFullLog(model) {
  // Opened now, inside the click, so that no popup blocker stops it; filled when the log comes.
  const tab = window.open("", "_blank");
  if (tab) {
    tab.document.title = "Output log";
    tab.document.body.textContent = "Loading the full log… (it comes when the kernel is free)";
  }
  model.send({ type: "full_log" });
  return tab;
}

function showFullLog(tab, msg, buffers) {
  const data = buffers && buffers[0];
  const bytes = data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array();
  const url = URL.createObjectURL(new Blob([bytes], { type: "text/plain;charset=utf-8" }));
  if (tab && !tab.closed) tab.location.href = url;
  else {
    const a = document.createElement("a");
    a.href = url;
    a.download = `${msg.run_id || "run"}.log`;
    a.click();
  }
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export default {
  initialize({ model }) {
    const store = storeFor(model);
    const onMsg = (msg, buffers) => store.onMessage(msg, buffers);
    const onSnapshot = () => store.onSnapshot();
    model.on("msg:custom", onMsg);
    model.on("change:_snapshot", onSnapshot);
    return () => {
      model.off("msg:custom", onMsg);
      model.off("change:_snapshot", onSnapshot);
      STORES.delete(model.get("_uid"));
    };
  },

  render({ model, el }) {
    const store = storeFor(model);
    preloadCharts(model);
    const views = [];
    let logTab = null;
    const page = createRunPage({
      maxLines: store.state?.log?.limit ?? 1000,
      onOpenChild: (row) => model.send({ type: "open", run_id: row.id }),
      onBack: (index) => model.send({ type: "back", levels: (model.get("_trail") || []).length - index }),
      onFullLog: () => {
        logTab = openFullLog(model);
      },
      onUiChange: (ui) => {
        store.ui = { runId: store.state?.header?.run_id, ...ui };
      },
      chartHost: {
        mount(chartId, slot) {
          if (!model.get("_charts")?.[chartId]) return false;
          mountFigure(model, chartId, slot, views)
            .then((view) => view && store.figures.mounted(chartId, view))
            .catch((e) => console.warn("runwidget: could not draw a chart", e));
          return true;
        },
        xAxes: ["data", "relative", "wall"],
        setControls: (chartId, controls) => store.figures.setControls(chartId, controls),
        resetZoom: (chartId) => store.figures.resetZoom(chartId),
        png: (chartId) => store.figures.png(chartId),
        csv: (chartId) => store.figures.csv(chartId).catch((e) => page.flash(`CSV: ${e.message}`)),
      },
    });
    el.classList.add("runwidget");
    el.appendChild(page.el);
    const context = () => ({ trail: model.get("_trail") || [], polling: model.get("polling") });
    const unsubscribe = store.subscribe((state, change) => {
      if (change.kind === "full_log") {
        showFullLog(logTab, change.msg, change.buffers);
        logTab = null;
      } else if (change.kind === "error") page.flash(change.text);
      else page.update(state, change, context());
    });
    const onContext = () => page.update(store.state, { kind: "context" }, context());
    const onCharts = () => {
      page.remount(store.state);
      for (const chartId of store.figures.charts.keys()) store.figures.apply(chartId);
      store.syncIterations();
    };
    model.on("change:polling", onContext);
    model.on("change:_trail", onContext);
    model.on("change:_charts", onCharts);
    page.update(store.state, { kind: "snapshot" }, context());
    if (store.ui.runId === store.state?.header?.run_id) page.restoreUi(store.ui);
    store.syncIterations();
    return () => {
      unsubscribe();
      model.off("change:polling", onContext);
      model.off("change:_trail", onContext);
      model.off("change:_charts", onCharts);
      page.destroy();
      for (const view of views) view.remove();
    };
  },
};
