// The "Runs" sidebar: experiments and runs with live status, duration and primary metric.
// A virtual list: only the rows in view are in the DOM, and rows are fetched a page at a
// time from the REST API, so 10,000 runs draw as fast as 10. It polls the runs changed since
// its cursor about every 10 s, and not while it is hidden.
import { h, replace } from "../components/dom.js";
import { alertMark, setAlertMark } from "../components/alerts.js";
import { TERMINAL, formatDuration, formatTotal, formatValue, runDuration, statusClass } from "../components/format.js";

export const ROW_HEIGHT = 50;

/** A metric value in at most 4 significant digits, for a narrow column. */
function shortValue(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return formatValue(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}
const PAGE = 100;
const OVERSCAN = 8;
const POLL_MS = 10000;

/**
 * @param {object} options
 * @param {ReturnType<import("../portal/api.js").createApi>} options.api
 * @param {() => boolean} options.isVisible
 * @param {object} options.actions open(run), insert(run), copy(run), portal(run), cancel(run)
 */
export function createRunsSidebar({ api, isVisible, actions }) {
  const experiment = h("select", { className: "rw-sb-experiment", attrs: { "aria-label": "Experiment" } }, h("option", { value: "", text: "All experiments" }));
  const activeButton = h("button", { type: "button", className: "rw-sb-filter", text: "Active", dataset: { filter: "active" } });
  const allButton = h("button", { type: "button", className: "rw-sb-filter", text: "All", dataset: { filter: "all" } });
  const search = h("input", { type: "search", className: "rw-sb-search", placeholder: "Search runs", attrs: { "aria-label": "Search runs" } });
  const count = h("div", { className: "rw-sb-count", attrs: { "aria-live": "polite" }, text: "Loading runs…" });
  // Why the list cannot be read (the server's message, as text): shown until a read works.
  const notice = h("div", { className: "rw-notice rw-notice-error rw-sb-notice", attrs: { role: "alert" }, hidden: true });
  const spacer = h("div", { className: "rw-sb-spacer" });
  const scroller = h("div", { className: "rw-sb-list", attrs: { role: "list", tabindex: 0 } }, spacer);
  const el = h(
    "div",
    { className: "rw-sidebar rw-page" },
    h("div", { className: "rw-sb-bar" }, h("div", { className: "rw-sb-title", text: "Runs" }), h("div", { className: "rw-sb-filters", attrs: { role: "group" } }, activeButton, allButton)),
    h("div", { className: "rw-sb-bar" }, experiment, search),
    count,
    notice,
    scroller,
  );

  let filter = "all";
  let total = 0;
  let estimated = false; // the total is the server's estimate ("about N runs")
  let cursor = 0;
  let skew = 0; // server clock minus browser clock
  let generation = 0; // bumps when the query changes: late answers for an old query are dropped
  const pages = new Map(); // page index -> runs | Promise
  const rows = new Map(); // run id -> {el, run, parts}
  let timer = null;
  let ticker = null;
  let firstDraw = null; // ms from creation to the first rows drawn
  const created = performance.now();

  function query() {
    return {
      parent: "none",
      status: filter === "active" ? "active" : undefined,
      experiment: experiment.value || undefined,
      q: search.value.trim() || undefined,
      stats: "primary",
    };
  }

  function setFilter(value) {
    filter = value;
    activeButton.classList.toggle("rw-sb-on", value === "active");
    allButton.classList.toggle("rw-sb-on", value === "all");
    activeButton.setAttribute("aria-pressed", String(value === "active"));
    allButton.setAttribute("aria-pressed", String(value === "all"));
    restart();
  }

  function restart() {
    generation++;
    pages.clear();
    scroller.scrollTop = 0;
    loadVisible(true);
  }

  function visibleRange() {
    const top = scroller.scrollTop;
    const height = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    return [first, last];
  }

  async function fetchPage(index, gen) {
    const answer = await api.runs({ ...query(), offset: index * PAGE, limit: PAGE });
    if (gen !== generation) return null;
    clearError();
    skew = answer.time - Date.now() / 1000;
    if (answer.total !== total) {
      total = answer.total;
    }
    estimated = Boolean(answer.total_estimated);
    cursor = Math.max(cursor, answer.cursor);
    pages.set(index, answer.runs);
    return answer.runs;
  }

  async function loadVisible(fresh = false) {
    const gen = generation;
    if (fresh) {
      try {
        await fetchPage(0, gen);
      } catch (e) {
        showError(e);
        return;
      }
    }
    const [first, last] = visibleRange();
    const wanted = [];
    for (let p = Math.floor(first / PAGE); p <= Math.floor(Math.max(first, last - 1) / PAGE); p++) {
      if (!pages.has(p) && p * PAGE < total) wanted.push(p);
    }
    try {
      await Promise.all(wanted.map((p) => fetchPage(p, gen)));
    } catch (e) {
      showError(e);
      return;
    }
    if (gen === generation) render();
  }

  function showError(e) {
    notice.textContent = `Cannot list runs: ${(e && e.message) || String(e)}`;
    notice.hidden = false;
    if (count.textContent === "Loading runs…") count.textContent = "";
  }

  function clearError() {
    notice.hidden = true;
    notice.textContent = "";
  }

  function runAt(i) {
    const page = pages.get(Math.floor(i / PAGE));
    return Array.isArray(page) ? page[i % PAGE] : undefined;
  }

  function render() {
    count.textContent = total === 0 ? (filter === "active" ? "No queued or running runs." : "No runs yet.") : formatTotal(total, estimated);
    spacer.style.height = `${total * ROW_HEIGHT}px`;
    const [first, last] = visibleRange();
    const keep = new Set();
    for (let i = first; i < last; i++) {
      const run = runAt(i);
      if (!run) continue;
      keep.add(run.id);
      let row = rows.get(run.id);
      if (!row) {
        row = makeRow(run);
        rows.set(run.id, row);
        spacer.appendChild(row.el);
      } else if (row.run.seq !== run.seq || row.run.status !== run.status || row.run.target !== run.target || JSON.stringify(row.run.primary_metric) !== JSON.stringify(run.primary_metric) || JSON.stringify(row.run.alerts) !== JSON.stringify(run.alerts)) {
        fillRow(row, run);
      }
      row.el.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
    }
    for (const [id, row] of rows) {
      if (!keep.has(id)) {
        row.el.remove();
        rows.delete(id);
      }
    }
    tick();
    if (firstDraw === null && rows.size > 0) {
      firstDraw = performance.now() - created;
      el.dataset.firstDrawMs = String(Math.round(firstDraw));
    }
    const anyAlive = [...rows.values()].some((r) => !TERMINAL.has(r.run.status));
    if (anyAlive && !ticker) ticker = setInterval(tick, 1000);
    if (!anyAlive && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  function makeRow(run) {
    const parts = {
      badge: h("span", { className: "rw-badge" }),
      name: h("span", { className: "rw-sb-name" }),
      alert: alertMark(null),
      metric: h("span", { className: "rw-sb-metric" }),
      experiment: h("span", { className: "rw-sb-exp" }),
      duration: h("span", { className: "rw-sb-duration" }),
      // The compute target, shown only for a run that is not on "local".
      target: h("span", { className: "rw-sb-target", hidden: true }),
      cancel: null,
    };
    const button = (text, title, fn, className = "") =>
      h("button", {
        type: "button",
        className: `rw-sb-action ${className}`,
        text,
        title,
        on: {
          click: (e) => {
            e.stopPropagation();
            fn(row.run, e.currentTarget);
          },
        },
      });
    parts.cancel = button("Cancel", "Cancel this run", (r, b) => confirmCancel(r, b), "rw-sb-cancel");
    const actions = h(
      "span",
      { className: "rw-sb-actions" },
      button("Insert", "Insert a RunDetails cell into the notebook", (r) => actions_.insert(r)),
      button("Copy id", "Copy the run id", (r) => actions_.copy(r)),
      button("Portal", "Open the run's portal page", (r) => actions_.portal(r)),
      parts.cancel,
    );
    const el = h(
      "div",
      {
        className: "rw-sb-row",
        attrs: { role: "listitem", tabindex: 0 },
        on: {
          click: () => actions_.open(row.run),
          keydown: (e) => {
            if (e.key === "Enter") actions_.open(row.run);
          },
        },
      },
      h("div", { className: "rw-sb-line" }, parts.badge, parts.name, parts.alert, parts.metric),
      h("div", { className: "rw-sb-line rw-sb-sub" }, parts.experiment, parts.target, parts.duration, actions),
    );
    const row = { el, run, parts };
    fillRow(row, run);
    return row;
  }

  const actions_ = actions;

  function fillRow(row, run) {
    row.run = run;
    const { parts } = row;
    parts.badge.className = `rw-badge ${statusClass(run.status_kind)}`;
    parts.badge.textContent = run.status;
    parts.name.textContent = run.name || run.id;
    setAlertMark(parts.alert, run.alerts);
    row.el.title = `${run.name || run.id}\n${run.id}`;
    row.el.dataset.runId = run.id;
    row.el.dataset.status = run.status;
    const pm = run.primary_metric;
    parts.metric.textContent = pm ? `${pm.name} ${shortValue(pm.value)}` : "";
    parts.metric.title = pm ? `${pm.name}: ${pm.value}` : "";
    parts.experiment.textContent = `${run.experiment}${run.children ? ` · ${run.children} child run${run.children === 1 ? "" : "s"}` : ""}`;
    const target = run.target && run.target !== "local" ? String(run.target) : "";
    parts.target.textContent = target;
    parts.target.title = target ? `Compute target: ${target}` : "";
    parts.target.hidden = !target;
    row.el.dataset.target = run.target || "local";
    parts.cancel.hidden = TERMINAL.has(run.status);
  }

  function tick() {
    const now = Date.now() / 1000 + skew;
    for (const row of rows.values()) {
      const r = row.run;
      row.parts.duration.textContent = formatDuration(runDuration(r.started, r.ended, now));
    }
  }

  function confirmCancel(run, button) {
    if (button.dataset.confirm === "1") {
      button.disabled = true;
      button.textContent = "Canceling…";
      actions_.cancel(run).finally(() => poll());
      return;
    }
    button.dataset.confirm = "1";
    button.textContent = "Cancel run?";
    button.classList.add("rw-sb-confirm");
    setTimeout(() => {
      if (!button.disabled) {
        button.dataset.confirm = "";
        button.textContent = "Cancel";
        button.classList.remove("rw-sb-confirm");
      }
    }, 4000);
  }

  /** Ask for the runs changed since the cursor; patch them in, or reload what is in view. */
  async function poll() {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!isVisible()) {
      timer = setTimeout(poll, 1000);
      return;
    }
    const gen = generation;
    try {
      const answer = await api.runs({ ...query(), since: cursor, limit: 500 });
      if (gen !== generation) return;
      clearError();
      skew = answer.time - Date.now() / 1000;
      cursor = Math.max(cursor, answer.cursor);
      const known = new Map();
      for (const [index, page] of pages) if (Array.isArray(page)) page.forEach((r, i) => known.set(r.id, [index, i]));
      const unknown = answer.runs.some((r) => !known.has(r.id));
      // A live run's metric and heartbeat change without moving its change cursor: while one
      // is in view, reload the rows in view (one page request) instead of patching them.
      const liveInView = [...rows.values()].some((r) => !TERMINAL.has(r.run.status));
      if (answer.total !== total || unknown || liveInView) {
        total = answer.total;
        estimated = Boolean(answer.total_estimated);
        pages.clear();
        await loadVisible(true);
      } else {
        for (const run of answer.runs) {
          const [index, i] = known.get(run.id);
          pages.get(index)[i] = run;
        }
        render();
      }
      refreshExperiments();
    } catch (e) {
      showError(e);
    }
    timer = setTimeout(poll, POLL_MS);
  }

  /** Runs changed (an event said so): poll soon, once for a burst of events. */
  let poked = null;
  function poke() {
    if (poked) return;
    poked = setTimeout(() => {
      poked = null;
      poll();
    }, 50);
  }

  let experimentNames = "";
  async function refreshExperiments() {
    try {
      const { experiments } = await api.experiments();
      const names = experiments.map((e) => e.name).sort((a, b) => a.localeCompare(b));
      if (names.join("\0") === experimentNames) return;
      experimentNames = names.join("\0");
      const chosen = experiment.value;
      replace(experiment, h("option", { value: "", text: "All experiments" }), names.map((n) => h("option", { value: n, text: n })));
      experiment.value = names.includes(chosen) ? chosen : "";
    } catch (e) {
      console.warn("runwidget: cannot list experiments", e);
    }
  }

  let scrollFrame = null;
  scroller.addEventListener("scroll", () => {
    if (scrollFrame) return;
    scrollFrame = requestAnimationFrame(() => {
      scrollFrame = null;
      render();
      loadVisible();
    });
  });
  let searchTimer = null;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(restart, 250);
  });
  experiment.addEventListener("change", restart);
  activeButton.addEventListener("click", () => setFilter("active"));
  allButton.addEventListener("click", () => setFilter("all"));

  function start() {
    setFilter("all");
    refreshExperiments();
    timer = setTimeout(poll, POLL_MS);
  }

  /** The panel was shown again: catch up now. */
  function shown() {
    render();
    poll();
  }

  function destroy() {
    if (timer) clearTimeout(timer);
    if (ticker) clearInterval(ticker);
    timer = null;
    ticker = null;
  }

  return { el, start, shown, poll, poke, render, destroy, get firstDrawMs() { return firstDraw; } };
}
