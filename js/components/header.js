// The header: name, status (coloured), type, experiment, run id, started, a duration that
// ticks in the browser while the run is alive, the portal link, and the way back.
import { h, replace, safeUrl } from "./dom.js";
import { TERMINAL, formatDuration, formatTime, runDuration, statusClass } from "./format.js";

/**
 * @param {object} [options]
 * @param {(index: number) => void} [options.onBack] go back to trail entry `index`
 * @param {() => number} [options.now] seconds since the epoch (tests pass a fake clock)
 */
export function createHeader({ onBack, now = () => Date.now() / 1000 } = {}) {
  const trail = h("nav", { className: "rw-trail", attrs: { "aria-label": "Runs opened" } });
  const title = h("span", { className: "rw-title" });
  const status = h("span", { className: "rw-status", attrs: { role: "status" } });
  const live = h("span", { className: "rw-live" });
  const meta = h("div", { className: "rw-meta" });
  const duration = h("span", { className: "rw-duration" });
  const link = h("a", {
    className: "rw-portal",
    text: "View run in portal",
    attrs: { target: "_blank", rel: "noopener noreferrer" },
  });
  const el = h(
    "header",
    { className: "rw-header" },
    trail,
    h("div", { className: "rw-title-row" }, title, status, live, h("span", { className: "rw-spacer" }), link),
    meta,
  );
  let current = null;
  let skew = 0; // the kernel clock minus the browser clock, so durations agree
  let timer = null;

  function tick() {
    if (!current) return;
    const t = now() + skew;
    duration.textContent = formatDuration(runDuration(current.started, current.ended, t));
  }

  function update(header, { time, trail: crumbs = [], polling = null } = {}) {
    current = header;
    if (typeof time === "number") skew = time - now();
    replace(
      trail,
      crumbs.map((c, i) =>
        h("button", {
          className: "rw-crumb",
          type: "button",
          text: c.name || c.run_id,
          title: `Back to ${c.run_id}`,
          on: { click: () => onBack && onBack(i) },
        }),
      ),
      crumbs.length ? h("span", { className: "rw-crumb-current", text: header.display_name }) : null,
    );
    trail.hidden = crumbs.length === 0;
    title.textContent = header.display_name || header.run_id;
    title.title = header.display_name || "";
    status.textContent = header.status;
    status.className = `rw-status ${statusClass(header.status_kind)}`;
    el.dataset.status = header.status;
    // "live" only while something can still change (after the end, polling does one last read).
    live.textContent = polling && !TERMINAL.has(header.status) ? "live" : "";
    live.title = polling ? "Refreshing in the background" : "";
    const url = safeUrl(header.portal_url);
    link.hidden = !url;
    if (url) link.href = url;
    else link.removeAttribute("href");
    // No portal serves the store yet: the link says how to start one instead of failing.
    link.title = header.portal_note || "";
    link.classList.toggle("rw-portal-unserved", !!header.portal_note);
    replace(
      meta,
      item("Type", header.type),
      item("Experiment", header.experiment),
      item("Run id", header.run_id),
      header.started ? item("Started", formatTime(header.started)) : item("Created", formatTime(header.created)),
      header.started ? h("span", { className: "rw-meta-item" }, h("span", { className: "rw-meta-label", text: "Duration" }), duration) : null,
    );
    tick();
    const alive = header.started && !header.ended && !TERMINAL.has(header.status);
    if (alive && !timer) timer = setInterval(tick, 1000);
    if (!alive && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  function destroy() {
    if (timer) clearInterval(timer);
    timer = null;
  }

  return { el, update, destroy };
}

function item(label, value) {
  return h(
    "span",
    { className: "rw-meta-item" },
    h("span", { className: "rw-meta-label", text: label }),
    h("span", { className: "rw-meta-value", text: value ?? "" }),
  );
}
