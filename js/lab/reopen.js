// A RunDetails output in a notebook reopened without the kernel that drew it. The output
// carries, next to the widget view and its static summary, a small bundle naming the run
// (application/vnd.runwidget.run+json: run id, store as the server names it, display name;
// runwidget/widgets/reopen.py). This mime renderer ranks ahead of the widget manager's
// (-10), because that one only says "model not found" (or "Loading widget..." for ever,
// with no kernel) when the model is gone, and then:
// - hands the output to the widget manager's renderer when the notebook's kernel has the
//   widget's comm (the live widget, as before), or when there is no notebook session to ask
//   (Voila, which runs the kernel and registers the model before it shows the output);
// - else draws the run as it is now with the run panel's code (js/portal/runview.js) from
//   the server's REST API, live while the run runs, and switches to the widget if the
//   kernel gets the model back (a page reloaded while the kernel runs);
// - else (the server serves another store, or does not know the run) the static summary.
// A comparison's output (RunComparison) names its runs instead (application/vnd.runwidget.
// runs+json: their ids and names, their store) and is drawn, with no kernel, as the portal's
// compare page draws it (js/portal/compareview.js): each run with its status and a link to
// its page, and their metrics overlaid.
import { Panel, Widget } from "@lumino/widgets";
import { createApi } from "../portal/api.js";
import { createRunView } from "../portal/runview.js";
import { createCompareView } from "../portal/compareview.js";
import { h } from "../components/dom.js";
import "../widget.css";
import "../portal/portal.css";
import "./style.css";

export const RUN_MIME = "application/vnd.runwidget.run+json";
export const RUNS_MIME = "application/vnd.runwidget.runs+json";
export const WIDGET_VIEW = "application/vnd.jupyter.widget-view+json";
const BUNDLE_VERSION = 1;
// Lower ranks win: ahead of the widget manager's renderer (-10) and of text/html.
export const RANK = -20;
// How long a run drawn here waits for the kernel to get the widget's model back.
const LIVE_WAIT_MS = 30_000;

/** The run an output names, or null (missing, malformed, or of a newer bundle version). */
export function readReference(bundle) {
  if (!bundle || typeof bundle !== "object") return null;
  const { version, run_id: runId, store, name } = bundle;
  if (!Number.isInteger(version) || version < 1 || version > BUNDLE_VERSION) return null;
  if (typeof runId !== "string" || !runId || typeof store !== "string") return null;
  return { runId, store, name: typeof name === "string" && name ? name : runId };
}

/** The runs a comparison's output names ({ store, runs: [{ runId, name }] }), or null. */
export function readRunsReference(bundle) {
  if (!bundle || typeof bundle !== "object") return null;
  const { version, store, runs } = bundle;
  if (!Number.isInteger(version) || version < 1 || version > BUNDLE_VERSION) return null;
  if (typeof store !== "string" || !Array.isArray(runs) || runs.length === 0) return null;
  const named = runs.map((r) => readReference({ version, store, run_id: r?.run_id, name: r?.name }));
  if (named.some((r) => !r)) return null;
  return { store, runs: named.map(({ runId, name }) => ({ runId, name })) };
}

/**
 * What an output shows: "widget" (the widget manager's renderer), "run" (the run from the
 * server, if it serves it) or "summary".
 * @param {object} facts
 * @param {object|null} facts.reference what `readReference` found
 * @param {string|null} facts.modelId the widget view's model id
 * @param {boolean} facts.canDelegate a rendermime with the widget renderer is at hand
 * @param {boolean} facts.sessionKnown the output is in a notebook whose session can be asked
 * @param {boolean} facts.live that session's kernel has the widget's comm
 */
export function chooseView({ reference, modelId, canDelegate, sessionKnown, live }) {
  if (modelId && canDelegate && (live || !sessionKnown)) return "widget";
  return reference ? "run" : "summary";
}

/**
 * Whether the server behind `api` serves the store `reference` names and knows its run (a
 * comparison's runs are asked for when drawn).
 * @param {ReturnType<typeof createApi>} api
 * @param {() => Promise<object>} status the server's `GET status` answer
 */
export async function serves(api, status, reference) {
  try {
    const answer = await status();
    if (!answer || answer.store !== reference.store) return false;
    if (!reference.runs) await api.run(reference.runId);
    return true;
  } catch {
    return false; // no runwidget on this server, a store that is down, or an unknown run
  }
}

// One API client per page, from the page's own config (JupyterLab, Notebook 7 and Voila
// all carry baseUrl and token there), and the server's status asked once.
const page = { api: null, status: null, views: new Set(), base: "/" };

function pageApi() {
  if (!page.api) {
    let config;
    try {
      config = JSON.parse(document.getElementById("jupyter-config-data")?.textContent || "{}");
    } catch {
      config = {};
    }
    const base = String(config.baseUrl || "/").replace(/\/?$/, "/");
    page.base = base;
    page.api = createApi({ base: `${base}runwidget/api`, token: config.token || "" });
  }
  return page.api;
}

function pageStatus() {
  if (!page.status) {
    page.status = pageApi().get("status");
    page.status.catch(() => (page.status = null)); // asked again next time
  }
  return page.status;
}

/** The run views drawn in outputs now (the extension refreshes them on change events). */
export function reopenedRuns() {
  return [...page.views];
}

/**
 * The output area's rendermime and the notebook's session context above `widget`; `settled`
 * once the notebook is found, or the widgets above reach the page without one (Voila).
 */
function hostOf(widget) {
  let rendermime = null;
  let sessionContext = null;
  let root = widget;
  for (let w = widget.parent; w; w = w.parent) {
    if (!rendermime && w.rendermime && typeof w.rendermime.createRenderer === "function") rendermime = w.rendermime;
    if (!sessionContext && w.sessionContext && w.sessionContext.kernelChanged) sessionContext = w.sessionContext;
    root = w;
  }
  return { rendermime, sessionContext, settled: Boolean(sessionContext) || root.isAttached };
}

/**
 * Wait until the renderer has its place: the output area renders before adding it, and a
 * notebook being opened renders a cell's outputs before it takes the cell in.
 */
async function hosted(widget) {
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, i ? 50 : 0));
    if (widget.isDisposed) return null;
    const host = hostOf(widget);
    if (host.rendermime && host.settled) return host;
  }
  return hostOf(widget);
}

/** Call `onLive` once the session's kernel has comm `modelId`; returns the call that stops. */
function watchForModel(sessionContext, modelId, onLive) {
  let kernel = null;
  const check = () => {
    if (sessionContext.session?.kernel?.hasComm?.(modelId)) {
      stop();
      onLive();
    }
  };
  const follow = () => {
    if (kernel) kernel.anyMessage.disconnect(check);
    kernel = sessionContext.session?.kernel ?? null;
    if (kernel && kernel.anyMessage) kernel.anyMessage.connect(check);
  };
  const timer = setTimeout(() => stop(), LIVE_WAIT_MS);
  function stop() {
    clearTimeout(timer);
    sessionContext.kernelChanged.disconnect(follow);
    if (kernel) kernel.anyMessage.disconnect(check);
    kernel = null;
  }
  sessionContext.kernelChanged.connect(follow);
  follow();
  return stop;
}

class RunOutput extends Panel {
  constructor() {
    super();
    this.addClass("rw-reopened");
    this.shown = null; // { kind, mime?, renderer?, view?, runId? }
    this.ticket = 0;
    this.stopWatch = () => {};
  }

  async renderModel(model) {
    const ticket = ++this.ticket;
    this.stopWatch();
    const host = await hosted(this);
    if (!host || ticket !== this.ticket || this.isDisposed) return;
    const reference = readReference(model.data[RUN_MIME]) || readRunsReference(model.data[RUNS_MIME]);
    const modelId = model.data[WIDGET_VIEW]?.model_id || null;
    const { rendermime, sessionContext } = host;
    const choice = chooseView({
      reference,
      modelId,
      canDelegate: Boolean(rendermime),
      sessionKnown: Boolean(sessionContext),
      live: Boolean(modelId && sessionContext?.session?.kernel?.hasComm?.(modelId)),
    });
    if (choice === "widget") return this.showRenderer(rendermime, WIDGET_VIEW, model);
    if (choice === "run" && (await serves(pageApi(), pageStatus, reference))) {
      if (ticket !== this.ticket || this.isDisposed) return;
      if (reference.runs) {
        if (!(await this.showRuns(reference, ticket))) return this.showSummary(rendermime, model, ticket);
      } else this.showRun(reference);
      if (modelId && sessionContext && rendermime) {
        this.stopWatch = watchForModel(sessionContext, modelId, () => {
          if (!this.isDisposed && ticket === this.ticket) this.renderModel(model);
        });
      }
      return;
    }
    return this.showSummary(rendermime, model, ticket);
  }

  /** The output's static summary (its text where it has none). */
  showSummary(rendermime, model, ticket) {
    if (ticket !== this.ticket || this.isDisposed) return;
    if (rendermime && "text/html" in model.data) return this.showRenderer(rendermime, "text/html", model);
    this.display({ kind: "text" }, new Widget({ node: h("pre", { text: String(model.data["text/plain"] ?? "") }) }));
  }

  /** Draw with another renderer of the output area (an update goes to the same one). */
  showRenderer(rendermime, mime, model) {
    if (this.shown?.kind === "renderer" && this.shown.mime === mime) return this.shown.renderer.renderModel(model);
    const renderer = rendermime.createRenderer(mime);
    this.display({ kind: "renderer", mime, renderer }, renderer);
    return renderer.renderModel(model);
  }

  showRun(reference) {
    if (this.shown?.kind === "run" && this.shown.runId === reference.runId) return; // live already
    const view = createRunView({ api: pageApi(), runId: reference.runId, isVisible: () => this.isVisible && !document.hidden });
    const note = h("div", { className: "rw-reopened-note", text: "No kernel has this widget: the run as the Jupyter server reads it now." });
    this.display({ kind: "run", runId: reference.runId, view }, new Widget({ node: h("div", { className: "rw-reopened-run" }, note, view.el) }));
    page.views.add(view);
  }

  /** A comparison's runs as the server reads them; false when it does not know them. */
  async showRuns(reference, ticket) {
    const ids = reference.runs.map((r) => r.runId);
    const key = ids.join(",");
    if (this.shown?.kind === "runs" && this.shown.key === key) return true;
    const body = h("div", { className: "rw-compare" });
    const runLink = (id) => `${page.base}runwidget/runs/${encodeURIComponent(id)}`;
    const view = createCompareView(body, { api: pageApi(), ids, runLink, linkTarget: "_blank" });
    let known = true;
    try {
      await view.load();
    } catch {
      known = false; // the server does not know these runs
    }
    if (!known || ticket !== this.ticket || this.isDisposed) {
      view.destroy();
      return known;
    }
    const note = h("div", { className: "rw-reopened-note", text: "No kernel has this widget: the runs as the Jupyter server reads them now." });
    this.display({ kind: "runs", key, view }, new Widget({ node: h("div", { className: "rw-reopened-runs rw-page" }, note, body) }));
    page.views.add(view); // read again on the change events of its runs (js/lab/index.js)
    return true;
  }

  display(shown, widget) {
    this.clear();
    this.shown = shown;
    this.addWidget(widget);
  }

  clear() {
    if (this.shown?.view) {
      page.views.delete(this.shown.view);
      this.shown.view.destroy();
    }
    this.shown?.destroy?.();
    this.shown = null;
    for (const widget of [...this.widgets]) widget.dispose();
  }

  onAfterShow() {
    if (this.shown?.view) this.shown.view.refresh();
  }

  dispose() {
    if (this.isDisposed) return;
    this.ticket++;
    this.stopWatch();
    this.clear();
    super.dispose();
  }
}

/** The mime extension (package.json `jupyterlab.mimeExtension`). */
const extension = {
  id: "runwidget:reopened-run",
  description: "A RunDetails output (a run, or runs compared) drawn from the server when its kernel is gone.",
  rendererFactory: {
    safe: false, // as the widget's own renderer: an untrusted notebook shows the summary
    mimeTypes: [RUN_MIME, RUNS_MIME],
    defaultRank: RANK,
    createRenderer: () => new RunOutput(),
  },
  rank: RANK,
  dataType: "json",
};

export default extension;
