// The notebook widget of runs side by side (anywidget). A page that loads the widget gets
// the whole comparison as the `_compare` state; after that the kernel sends only what
// changed (a "delta" message: a live run's new points, stats and status, long lines as
// binary buffers), merged here into the comparison every view of the widget draws. What
// the charts read again (a zoomed range from every point, the runs against time, every
// point as CSV) the kernel answers.
import { applyCompareDelta, createComparison } from "./components/compare.js";
import { downloadBlob, fileName } from "./components/chartcontrols.js";
import { answerBlob, createKernelRequests } from "./kernelrequests.js";
import { unpackTails } from "./binary.js";
import "./widget.css";
import "./compare.css";

// anywidget hands initialize() and each render() a different proxy of one model: the
// comparison is kept per widget, by its own id.
const STORES = new Map();

/** Long line tails come as binary buffers (js/binary.js); the merge makes them lists. */
export function unpackLines(delta, buffers = []) {
  unpackTails(delta?.series ?? [], buffers);
  return delta;
}

/**
 * The comparison of one widget: the `_compare` state, then each delta merged in. A delta
 * that does not follow the comparison (one was missed) asks the kernel for the whole one.
 * @param {{get: Function, set: Function, send: Function}} model
 */
export function createCompareStore(model) {
  const listeners = new Set();
  const store = {
    compare: model.get("_compare"),
    resyncing: false,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    emit() {
      for (const fn of listeners) fn(store.compare);
    },
    /** The whole comparison, from the state (the first, or one asked for again). */
    onState() {
      const compare = model.get("_compare");
      if (compare === store.compare) return; // our own merge (onDelta)
      store.compare = compare;
      store.resyncing = false;
      store.emit();
    },
    onDelta(delta) {
      const compare = store.compare;
      if (!compare || delta.version <= compare.version) return; // already have it
      if (delta.base !== compare.version) {
        if (!store.resyncing) {
          store.resyncing = true;
          model.send({ type: "resync" });
        }
        return;
      }
      store.compare = applyCompareDelta(compare, delta);
      // The model's state too (here only, never sent back): the widget state a notebook
      // saves is the comparison as it is now.
      model.set("_compare", store.compare);
      store.emit();
    },
    onMessage(msg, buffers) {
      if (msg && msg.type === "delta") store.onDelta(unpackLines(msg.delta, buffers));
    },
  };
  return store;
}

function storeFor(model) {
  const key = model.get("_uid");
  if (!STORES.has(key)) STORES.set(key, createCompareStore(model));
  return STORES.get(key);
}

export default {
  initialize({ model }) {
    const store = storeFor(model);
    const onMsg = (msg, buffers) => store.onMessage(msg, buffers);
    const onState = () => store.onState();
    model.on("msg:custom", onMsg);
    model.on("change:_compare", onState);
    return () => {
      model.off("msg:custom", onMsg);
      model.off("change:_compare", onState);
      STORES.delete(model.get("_uid"));
    };
  },

  render({ model, el }) {
    const store = storeFor(model);
    el.classList.add("runwidget", "rw-compare");
    const root = document.createElement("div");
    root.className = "rw-page";
    el.appendChild(root);
    const requests = createKernelRequests(model);
    const view = createComparison(root, {
      async readRange(spec, axis, from, to) {
        const { msg } = await requests.ask({ type: "metric_range", name: spec.name, axis, from, to });
        return msg.series;
      },
      async csv(spec) {
        const { buffers } = await requests.ask({ type: "metric_csv", name: spec.name });
        downloadBlob(fileName(spec.name, "csv"), answerBlob(buffers));
      },
    });
    const onMsg = (msg, buffers) => requests.onMessage(msg, buffers);
    model.on("msg:custom", onMsg);
    const unsubscribe = store.subscribe((compare) => view.update(compare));
    view.update(store.compare);
    return () => {
      unsubscribe();
      model.off("msg:custom", onMsg);
      view.destroy();
    };
  },
};
