// runwidget's JupyterLab extension: the "Runs" sidebar and a run panel in the main area,
// both drawn without a kernel from the server extension's REST API. In Notebook 7 the
// sidebar works the same; a run opens on its portal page.
// The RunDetails outputs of a notebook reopened without its kernel: js/lab/reopen.js.
import { Widget } from "@lumino/widgets";
import { createApi } from "../portal/api.js";
import { createRunView } from "../portal/runview.js";
import { createRunsSidebar } from "./sidebar.js";
import { followChanges } from "./changes.js";
import { affects } from "../portal/changes.js";
import { runDetailsCode } from "./code.js";
import { followAlerts } from "./alerts.js";
import { reopenedRuns } from "./reopen.js";
import { h } from "../components/dom.js";
import "../widget.css";
import "../portal/portal.css";
import "./style.css";

const OPEN_RUN = "runwidget:open-run";

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = h("textarea", { value: text, style: { position: "fixed", opacity: "0" } });
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

/** A notebook panel (duck-typed, so that no notebook package is needed at build time). */
function asNotebookPanel(widget) {
  const notebook = widget && widget.content;
  return notebook && notebook.model && notebook.model.sharedModel && typeof notebook.activeCellIndex === "number" ? widget : null;
}

class RunPanel extends Widget {
  constructor({ api, runId, name, cancel }) {
    super();
    this.id = `runwidget-run-${runId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    this.addClass("rw-run-panel");
    this.title.label = name || runId;
    this.title.caption = runId;
    this.title.closable = true;
    this.title.iconClass = "rw-runs-icon";
    this.view = createRunView({
      api,
      runId,
      isVisible: () => this.isVisible && !document.hidden,
      onHeader: (header) => {
        this.title.label = header.display_name || header.run_id;
        this.title.caption = `${header.run_id} (${header.status})`;
      },
    });
    const cancelButton = h("button", {
      type: "button",
      className: "rw-cancel",
      text: "Cancel run",
      on: {
        click: async () => {
          if (!window.confirm(`Cancel run ${this.view.runId}?`)) return;
          cancelButton.disabled = true;
          await cancel(this.view.runId);
          this.view.refresh();
        },
      },
    });
    const toolbar = h("div", { className: "rw-toolbar rw-page" }, cancelButton);
    new MutationObserver(() => {
      const status = this.view.el.dataset.status;
      cancelButton.hidden = !status || ["Completed", "Failed", "Canceled"].includes(status);
      cancelButton.disabled = false;
    }).observe(this.view.el, { attributes: true, attributeFilter: ["data-status"] });
    cancelButton.hidden = true;
    this.node.append(toolbar, this.view.el);
  }

  onAfterShow() {
    this.view.refresh();
  }

  dispose() {
    if (this.isDisposed) return;
    this.view.destroy();
    super.dispose();
  }
}

class RunsSidebar extends Widget {
  constructor(options) {
    super();
    this.id = "runwidget-runs";
    this.addClass("rw-sidebar-panel");
    this.title.iconClass = "rw-runs-icon";
    this.title.caption = "Runs";
    this.sidebar = createRunsSidebar({ ...options, isVisible: () => this.isVisible && !document.hidden });
    this.node.appendChild(this.sidebar.el);
    this.started = false;
  }

  onAfterShow() {
    if (!this.started) {
      this.started = true;
      this.sidebar.start();
    } else this.sidebar.shown();
  }

  onResize() {
    if (this.started) this.sidebar.render();
  }

  dispose() {
    if (this.isDisposed) return;
    this.sidebar.destroy();
    super.dispose();
  }
}

const plugin = {
  id: "runwidget:runs",
  description: "The Runs sidebar and run panels, drawn without a kernel.",
  autoStart: true,
  activate(app) {
    const settings = app.serviceManager.serverSettings;
    const baseUrl = settings.baseUrl.replace(/\/?$/, "/");
    const api = createApi({ base: `${baseUrl}runwidget/api`, token: settings.token });
    const portalUrl = (id) => `${baseUrl}runwidget/runs/${encodeURIComponent(id)}`;
    const isLab = typeof app.shell.activateById === "function" && app.name === "JupyterLab";
    let lastNotebook = null;
    const track = () => {
      const panel = asNotebookPanel(app.shell.currentWidget);
      if (panel) lastNotebook = panel;
    };
    if (app.shell.currentChanged) app.shell.currentChanged.connect(track);

    async function cancel(runId) {
      try {
        await api.cancel(runId);
      } catch (e) {
        window.alert(`Cannot cancel run ${runId}: ${e.message}`);
      }
    }

    app.commands.addCommand(OPEN_RUN, {
      label: "Open Run",
      execute: ({ runId, name }) => {
        if (!isLab) {
          window.open(portalUrl(runId), "_blank", "noopener");
          return;
        }
        const id = `runwidget-run-${String(runId).replace(/[^A-Za-z0-9_-]/g, "_")}`;
        for (const widget of app.shell.widgets("main")) {
          if (widget.id === id) {
            app.shell.activateById(id);
            return;
          }
        }
        const panel = new RunPanel({ api, runId, name, cancel });
        app.shell.add(panel, "main");
        app.shell.activateById(panel.id);
      },
    });

    const actions = {
      open: (run) => app.commands.execute(OPEN_RUN, { runId: run.id, name: run.name }),
      insert: (run) => {
        const panel = asNotebookPanel(app.shell.currentWidget) || (lastNotebook && !lastNotebook.isDisposed ? lastNotebook : null);
        if (!panel) {
          window.alert("Open a notebook first: the RunDetails cell goes below its active cell.");
          return;
        }
        const notebook = panel.content;
        const index = Math.max(0, notebook.activeCellIndex + 1);
        notebook.model.sharedModel.insertCell(index, { cell_type: "code", source: runDetailsCode(run), metadata: {} });
        notebook.activeCellIndex = index;
        if (app.shell.activateById) app.shell.activateById(panel.id);
      },
      copy: (run) => copyText(run.id),
      portal: (run) => window.open(portalUrl(run.id), "_blank", "noopener"),
      cancel: (run) => cancel(run.id),
    };
    const sidebar = new RunsSidebar({ api, actions });
    if (!isLab) sidebar.title.label = "Runs"; // Notebook 7 names its side panels
    app.shell.add(sidebar, "left", { rank: 850 });
    // New alerts (a run failed, stalled, went NaN, or said so) as JupyterLab notifications.
    const alerts = followAlerts({ api, openCommand: OPEN_RUN, notify: (n) => app.commands.execute("apputils:notify", n) });
    followChanges(app.serviceManager.events, (event) => {
      if (event.runs.length || event.more) sidebar.sidebar.poke();
      if (event.runs.length || event.more) alerts.check();
      for (const widget of app.shell.widgets("main")) {
        if (widget instanceof RunPanel && affects(event, widget.view.runId)) widget.view.refresh();
      }
      // Runs drawn in the outputs of notebooks reopened without their kernel (js/lab/reopen.js).
      for (const view of reopenedRuns()) if ((view.runIds ?? [view.runId]).some((id) => affects(event, id))) view.refresh();
    });
    app.runwidget = { sidebar, api, alerts };
  },
};

export default plugin;
