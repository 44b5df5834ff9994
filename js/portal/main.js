// The portal: experiments, an experiment's runs (metric columns, sort, compare), active runs,
// the compute targets and their runs, a run's page and the compare page. Every user-written
// string goes in as text.
import { h, replace } from "../components/dom.js";
import { formatDuration, formatTime, formatTotal, formatValue, runDuration } from "../components/format.js";
import { createTable } from "../components/table.js";
import { statusBadge } from "../components/children.js";
import { alertMark } from "../components/alerts.js";
import { createApi } from "./api.js";
import { createRunView } from "./runview.js";
import { affects, subscribeChanges } from "./changes.js";
import { createCompareView } from "./compareview.js";
import { createTargetsTable } from "./compute.js";
import { createModelsTable } from "./models.js";
import "../widget.css";
import "./portal.css";

const REFRESH_MS = 10000;
const STATS = ["last", "min", "max"];

const config = JSON.parse(document.getElementById("runwidget-config").textContent);
const api = createApi({ base: config.api });
const base = config.base;
const link = {
  home: () => `${base}/`,
  active: () => `${base}/active`,
  compute: () => `${base}/compute`,
  models: (name) => `${base}/models${name ? `?name=${encodeURIComponent(name)}` : ""}`,
  runs: (target) => `${base}/runs${target ? `?target=${encodeURIComponent(target)}` : ""}`,
  experiment: (name) => `${base}/experiments/${encodeURIComponent(name)}`,
  run: (id) => `${base}/runs/${encodeURIComponent(id)}`,
  compare: (ids, experiment) => `${base}/compare?runs=${ids.map(encodeURIComponent).join(",")}${experiment ? `&experiment=${encodeURIComponent(experiment)}` : ""}`,
};

function a(href, text, className = "") {
  return h("a", { href, text, className });
}

function nav(current) {
  const item = (key, href, text) => h("a", { href, text, className: key === current ? "rw-nav-current" : "" });
  return h(
    "nav",
    { className: "rw-portal-nav" },
    h("a", { href: link.home(), className: "rw-brand", text: "runwidget" }),
    item("home", link.home(), "Experiments"),
    item("active", link.active(), "Active runs"),
    item("compute", link.compute(), "Compute"),
    item("models", link.models(), "Models"),
  );
}

function showError(where, e) {
  replace(where, h("div", { className: "rw-notice rw-notice-warning", text: e.message || String(e) }));
}

/** Load a page's data once (a failure shown in `where`), then refresh it with `every`. */
async function loadAndRefresh(where, load) {
  try {
    await load();
  } catch (e) {
    showError(where, e);
  }
  every(load);
}

/** Refresh `fn` every REFRESH_MS while the page is visible, and soon after the server
 * says that runs changed. */
function every(fn) {
  let timer = null;
  const tick = async () => {
    clearTimeout(timer);
    if (!document.hidden) {
      try {
        await fn();
      } catch (e) {
        console.warn("runwidget: refresh failed", e);
      }
    }
    timer = setTimeout(tick, REFRESH_MS);
  };
  timer = setTimeout(tick, REFRESH_MS);
  let soon = null;
  const stop = subscribeChanges(api, (event) => {
    if (!(event.runs.length || event.more) || soon) return;
    soon = setTimeout(() => {
      soon = null;
      tick();
    }, 50);
  });
  return () => {
    clearTimeout(timer);
    stop();
  };
}

function durationOf(r, now) {
  return runDuration(r.started, r.ended, now);
}

function runColumns(serverNow) {
  return [
    { key: "name", label: "Run", render: (r) => a(link.run(r.id), r.name || r.id) },
    { key: "status", label: "Status", render: (r) => h("span", {}, statusBadge(r.status, r.status_kind), r.alerts ? " " : "", alertMark(r.alerts)) },
    { key: "experiment", label: "Experiment", render: (r) => a(link.experiment(r.experiment), r.experiment) },
    { key: "target", label: "Target", value: (r) => r.target || "local", render: (r) => a(link.runs(r.target || "local"), r.target || "local", "rw-run-target") },
    { key: "started", label: "Started", render: (r) => formatTime(r.started ?? r.created), value: (r) => r.started ?? r.created },
    { key: "duration", label: "Duration", numeric: true, value: (r) => durationOf(r, serverNow()), render: (r) => formatDuration(durationOf(r, serverNow())) },
  ];
}

// -- home and active runs ------------------------------------------------------------------
async function homePage(root) {
  const experimentsEl = h("div", {}, "Loading…");
  const activeEl = h("div");
  root.append(nav("home"), h("h1", { text: "Experiments" }), experimentsEl, h("h2", { text: "Active runs" }), activeEl);
  const table = createTable({
    className: "rw-experiments",
    pageSize: 50,
    sort: { key: "last_created", dir: -1 },
    empty: "No experiments yet.",
    columns: [
      { key: "name", label: "Experiment", render: (e) => a(link.experiment(e.name), e.name) },
      { key: "runs", label: "Runs", numeric: true },
      { key: "active", label: "Active", numeric: true },
      { key: "last_created", label: "Last run", render: (e) => formatTime(e.last_created), value: (e) => e.last_created },
    ],
  });
  const active = activeRunsTable();
  async function load() {
    const { experiments } = await api.experiments();
    table.update(experiments.map((e) => ({ ...e, id: e.name })));
    replace(experimentsEl, table.el);
    await active.load();
    replace(activeEl, active.el);
  }
  await loadAndRefresh(experimentsEl, load);
}

function activeRunsTable() {
  let skew = 0;
  const now = () => Date.now() / 1000 + skew;
  const table = createTable({ className: "rw-active", pageSize: 50, sort: { key: "started", dir: -1 }, columns: runColumns(now), empty: "No queued or running runs." });
  async function load() {
    const page = await api.runs({ status: "active", limit: 1000 });
    skew = page.time - Date.now() / 1000;
    table.update(page.runs);
  }
  return { el: table.el, load };
}

async function activePage(root) {
  const body = h("div", {}, "Loading…");
  root.append(nav("active"), h("h1", { text: "Active runs" }), h("p", { className: "rw-hint", text: "Queued and running runs of every experiment." }), body);
  const active = activeRunsTable();
  await loadAndRefresh(body, async () => {
    await active.load();
    if (body.firstChild !== active.el) replace(body, active.el);
  });
}

// -- compute targets and their runs ---------------------------------------------------------
async function computePage(root) {
  const body = h("div", {}, "Loading…");
  root.append(
    nav("compute"),
    h("h1", { text: "Compute" }),
    h("p", { className: "rw-hint", text: "Where submitted runs execute: each target, whether it answers now, and its runs." }),
    body,
  );
  const table = createTargetsTable({ runsLink: link.runs });
  async function load() {
    const { targets } = await api.targets();
    table.update(targets);
    if (body.firstChild !== table.el) replace(body, table.el);
  }
  await loadAndRefresh(body, load);
}

async function modelsPage(root, name) {
  const body = h("div", {}, "Loading…");
  const more = h("p", { className: "rw-hint" });
  root.append(
    nav("models"),
    name ? h("h1", {}, "Model ", h("span", { className: "rw-name", text: name })) : h("h1", { text: "Models" }),
    h("p", { className: "rw-hint" }, name ? a(link.models(), "All models") : "Every registered version, newest first; a model's name lists its versions."),
    body,
    more,
  );
  const table = createModelsTable({
    runLink: link.run,
    modelLink: link.models,
    downloadUrl: (m) => api.url(`models/${encodeURIComponent(m.name)}/${m.version}/download`),
  });
  async function load() {
    const answer = await api.get("models", { name });
    table.update(answer.models);
    more.textContent = answer.total > answer.models.length ? `The ${answer.models.length} newest of ${answer.total} versions.` : "";
    if (body.firstChild !== table.el) replace(body, table.el);
  }
  await loadAndRefresh(body, load);
}

async function runsPage(root, target) {
  let skew = 0;
  const now = () => Date.now() / 1000 + skew;
  const body = h("div", {}, "Loading…");
  const more = h("p", { className: "rw-hint" });
  root.append(
    nav(target ? "compute" : "runs"),
    target ? h("h1", {}, "Runs on ", h("span", { className: "rw-name", text: target })) : h("h1", { text: "Runs" }),
    target ? h("p", {}, a(link.compute(), "Compute targets"), " · ", a(link.runs(), "all runs")) : null,
    body,
    more,
  );
  const table = createTable({ className: "rw-runs", pageSize: 50, sort: { key: "started", dir: -1 }, columns: runColumns(now), empty: target ? "No run on this target yet." : "No runs yet." });
  async function load() {
    const page = await api.runs({ target: target || undefined, limit: 1000 });
    skew = page.time - Date.now() / 1000;
    table.update(page.runs);
    more.textContent = page.total > page.runs.length ? `The ${page.runs.length} newest of ${formatTotal(page.total, page.total_estimated)}.` : "";
    if (body.firstChild !== table.el) replace(body, table.el);
  }
  await loadAndRefresh(body, load);
}

// -- an experiment's runs ------------------------------------------------------------------
async function experimentPage(root, name) {
  const selected = new Set();
  let runs = [];
  let skew = 0;
  let metricNames = [];
  let shown = null; // metric names with columns; null until the first load picks some
  const now = () => Date.now() / 1000 + skew;
  const picker = h("div", { className: "rw-metric-picker" });
  const compareButton = h("button", { type: "button", className: "rw-compare-button", text: "Compare selected", on: { click: () => compare() } });
  const selection = h("span", { className: "rw-selection" });
  const compareEl = h("div", { className: "rw-compare" });
  const tableHolder = h("div", {}, "Loading…");
  const more = h("p", { className: "rw-hint" });
  root.append(
    nav("experiment"),
    h("h1", {}, "Experiment ", h("span", { className: "rw-name", text: name })),
    h("div", { className: "rw-toolbar" }, compareButton, selection),
    picker,
    tableHolder,
    more,
    compareEl,
  );

  const table = createTable({ className: "rw-runs", pageSize: 50, sort: { key: "started", dir: -1 }, columns: [], empty: "No runs in this experiment yet." });

  function columns() {
    const cols = [
      {
        key: "select",
        label: "",
        render: (r) =>
          h("input", {
            type: "checkbox",
            checked: selected.has(r.id),
            attrs: { "aria-label": `Select ${r.name || r.id}` },
            on: { change: (e) => toggle(r.id, e.target.checked) },
          }),
        value: (r) => (selected.has(r.id) ? 0 : 1),
      },
      { key: "number", label: "#", numeric: true },
      ...runColumns(now).filter((c) => c.key !== "experiment"),
    ];
    for (const metric of shown || []) {
      for (const stat of STATS) {
        cols.push({
          key: `m:${metric}:${stat}`,
          label: `${metric} (${stat})`,
          numeric: true,
          value: (r) => r.metrics?.[metric]?.[stat] ?? null,
          render: (r) => formatValue(r.metrics?.[metric]?.[stat]),
        });
      }
    }
    return cols;
  }

  function toggle(id, on) {
    if (on) selected.add(id);
    else selected.delete(id);
    renderSelection();
  }

  function renderSelection() {
    selection.textContent = selected.size ? `${selected.size} selected` : "Select runs to overlay their charts.";
    compareButton.disabled = selected.size < 1;
  }

  function renderPicker() {
    replace(
      picker,
      metricNames.length ? h("span", { className: "rw-picker-label", text: "Metric columns:" }) : null,
      metricNames.map((m) =>
        h(
          "label",
          { className: "rw-picker-item" },
          h("input", {
            type: "checkbox",
            checked: shown.includes(m),
            on: {
              change: (e) => {
                shown = e.target.checked ? [...shown, m] : shown.filter((x) => x !== m);
                table.update(runs, columns());
              },
            },
          }),
          m,
        ),
      ),
    );
  }

  async function load() {
    const page = await api.runs({ experiment: name, parent: "none", limit: 500, stats: "*" });
    skew = page.time - Date.now() / 1000;
    runs = page.runs;
    more.textContent = page.total > runs.length ? `The ${runs.length} newest of ${formatTotal(page.total, page.total_estimated)}.` : "";
    const names = [...new Set(runs.flatMap((r) => Object.keys(r.metrics || {})))].sort();
    const changed = names.join("\0") !== metricNames.join("\0");
    metricNames = names;
    if (shown === null) shown = names.slice(0, 2);
    if (changed) renderPicker();
    table.update(runs, columns());
    if (tableHolder.firstChild !== table.el) replace(tableHolder, table.el);
  }

  async function compare() {
    const ids = runs.filter((r) => selected.has(r.id)).map((r) => r.id);
    history.replaceState(null, "", link.compare(ids, name));
    await drawCompare(compareEl, ids);
    compareEl.scrollIntoView({ block: "start" });
  }

  renderSelection();
  await loadAndRefresh(tableHolder, load);
}

// -- compare ---------------------------------------------------------------------------------
let stopCompare = () => {};

async function drawCompare(el, ids) {
  stopCompare();
  const view = createCompareView(el, { api, ids, runLink: link.run });
  const stopRefresh = every(() => (view.terminal ? null : view.load()));
  stopCompare = () => {
    stopRefresh();
    view.destroy();
  };
  try {
    await view.load();
  } catch (e) {
    showError(el, e);
  }
}

async function comparePage(root, ids, experiment) {
  const el = h("div", { className: "rw-compare" });
  root.append(nav("compare"), experiment ? h("p", {}, "Experiment ", a(link.experiment(experiment), experiment)) : null, el);
  await drawCompare(el, ids);
}

// -- a run -----------------------------------------------------------------------------------
function runPage(root, runId) {
  const view = createRunView({
    api,
    runId,
    onOpenRun: (id) => {
      location.href = link.run(id);
    },
    onHeader: (header) => {
      document.title = `${header.display_name || header.run_id} (${header.status}) · runwidget`;
    },
  });
  subscribeChanges(api, (event) => {
    if (affects(event, view.runId)) view.refresh();
  });
  const cancel = h("button", {
    type: "button",
    className: "rw-cancel",
    text: "Cancel run",
    on: {
      click: async () => {
        if (!window.confirm(`Cancel run ${runId}?`)) return;
        cancel.disabled = true;
        try {
          await api.cancel(runId);
          view.refresh();
        } catch (e) {
          window.alert(`Cannot cancel: ${e.message}`);
          cancel.disabled = false;
        }
      },
    },
  });
  // The compute target the run was submitted to, from its record.
  const target = h("span", { className: "rw-run-target-info" });
  root.append(nav("run"), h("div", { className: "rw-toolbar" }, cancel, target), view.el);
  api
    .run(runId)
    .then((run) => {
      const name = run.target || "local";
      replace(target, "Target ", a(link.runs(name), name, "rw-run-target"));
    })
    .catch((e) => console.warn("runwidget: cannot read the run's target", e));
  const observer = new MutationObserver(() => {
    const status = view.el.dataset.status;
    cancel.hidden = !status || ["Completed", "Failed", "Canceled"].includes(status);
  });
  observer.observe(view.el, { attributes: true, attributeFilter: ["data-status"] });
  cancel.hidden = true;
}

// -- start -----------------------------------------------------------------------------------
const root = document.getElementById("runwidget-portal");
root.replaceChildren();
root.className = "rw-portal-root rw-page";
const params = config.params || {};
if (config.page === "experiment") experimentPage(root, params.experiment);
else if (config.page === "active") activePage(root);
else if (config.page === "run") runPage(root, params.run);
else if (config.page === "compute") computePage(root);
else if (config.page === "models") modelsPage(root, params.name);
else if (config.page === "runs") runsPage(root, params.target);
else if (config.page === "compare") comparePage(root, params.runs || [], params.experiment);
else homePage(root);
