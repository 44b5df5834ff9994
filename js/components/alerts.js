// The alerts banner of a run: what the user's run.alert() and runwidget's automatic alerts
// (failed, not responding, NaN) said, newest first. Titles and texts go in as text.
import { h, replace } from "./dom.js";

const LEVEL_CLASS = { info: "info", warn: "warning", error: "error" };
const KIND_LABEL = { user: "", failed: "failed", not_responding: "not responding", nan: "NaN" };
const SHOWN = 5;

function when(seconds) {
  if (typeof seconds !== "number") return "";
  return new Date(seconds * 1000).toLocaleTimeString();
}

export function createAlertBanner() {
  const el = h("div", { className: "rw-alerts", attrs: { role: "status", "aria-live": "polite" } });
  el.hidden = true;
  function update(alerts) {
    const list = Array.isArray(alerts) ? alerts.slice().reverse() : [];
    el.hidden = list.length === 0;
    const rows = list.slice(0, SHOWN).map((a) =>
      h(
        "div",
        { className: `rw-alert rw-notice rw-notice-${LEVEL_CLASS[a.level] || "warning"}`, dataset: { kind: a.kind || "", level: a.level || "" } },
        h("strong", { className: "rw-alert-title", text: a.title || "" }),
        a.text ? h("span", { className: "rw-alert-text", text: ` ${a.text}` }) : null,
        h("span", { className: "rw-alert-meta", text: ` ${[KIND_LABEL[a.kind] || "", when(a.time)].filter(Boolean).join(" · ")}` }),
      ),
    );
    if (list.length > SHOWN) rows.push(h("div", { className: "rw-alert-more", text: `and ${list.length - SHOWN} earlier alerts` }));
    replace(el, rows);
  }
  return { el, update };
}

/** Mark a run list's row: `alerts` is the row's {count, level, title}, or absent. */
export function setAlertMark(el, alerts) {
  const count = alerts && alerts.count ? alerts.count : 0;
  el.hidden = count === 0;
  el.className = `rw-alert-mark rw-alert-mark-${(alerts && alerts.level) || "warn"}`;
  el.textContent = count ? `\u26a0 ${count}` : "";
  el.title = count ? `${count} alert${count === 1 ? "" : "s"}; the latest: ${alerts.title || ""}` : "";
  return el;
}

/** A new mark for a run list's row (hidden without alerts). */
export function alertMark(alerts) {
  return setAlertMark(h("span", { attrs: { role: "img", "aria-label": "alerts" } }), alerts);
}
