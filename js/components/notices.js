// Notices (store unreachable, values not drawn...) and the error banner of a failed run.
import { h, replace } from "./dom.js";

export function createNotices() {
  const el = h("div", { className: "rw-notices", attrs: { "aria-live": "polite" } });
  function update(notices) {
    replace(
      el,
      (notices || []).map((n) =>
        h("div", { className: `rw-notice rw-notice-${n.level || "info"}`, dataset: { key: n.key || "" }, text: n.text }),
      ),
    );
    el.hidden = !notices || notices.length === 0;
  }
  return { el, update };
}

export function createErrorBanner() {
  const message = h("div", { className: "rw-error-message" });
  const trace = h("pre", { className: "rw-traceback" });
  const details = h("details", {}, h("summary", { text: "Traceback" }), trace);
  const el = h("div", { className: "rw-error", attrs: { role: "alert" } }, message, details);
  el.hidden = true;
  function update(error) {
    el.hidden = !error;
    if (!error) return;
    message.textContent = error.message || "The run failed.";
    trace.textContent = error.traceback || "";
    details.hidden = !error.traceback;
  }
  return { el, update };
}
