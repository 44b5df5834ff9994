// The output log. Only new lines are added; stdout and stderr look different; at most
// `maxLines` are kept (the full log is one click away). "Follow" keeps the newest line in
// view, but never while the reader has scrolled up: scrolling up turns it off, scrolling
// back to the bottom turns it on again.
import { h, replace } from "./dom.js";
import { formatClock } from "./format.js";

const AT_BOTTOM_SLACK = 8; // pixels

/**
 * @param {object} [options]
 * @param {number} [options.maxLines]
 * @param {() => void} [options.onFullLog] open the whole log (absent: no button)
 * @param {(view: {following: boolean, scrollTop: number}) => void} [options.onChange] the
 *   reader scrolled or toggled "Follow"
 */
export function createLogView({ maxLines = 1000, onFullLog, onChange } = {}) {
  const box = h("div", { className: "rw-log-lines", attrs: { tabindex: 0, role: "log", "aria-label": "Output log" } });
  const follow = h("input", { type: "checkbox", checked: true, className: "rw-follow" });
  const earlier = h("div", { className: "rw-log-earlier" });
  const count = h("span", { className: "rw-log-count" });
  const full = h("button", { type: "button", className: "rw-full-log", text: "Open full log", on: { click: () => onFullLog && onFullLog() } });
  full.hidden = !onFullLog;
  const empty = h("div", { className: "rw-empty", text: "No output yet." });
  const el = h(
    "div",
    { className: "rw-log" },
    h("div", { className: "rw-log-bar" }, h("label", { className: "rw-follow-label" }, follow, " Follow"), count, h("span", { className: "rw-spacer" }), full),
    earlier,
    box,
    empty,
  );
  let total = 0;

  function atBottom() {
    return box.scrollHeight - box.scrollTop - box.clientHeight <= AT_BOTTOM_SLACK;
  }

  // Whoever scrolled (the reader, or this view keeping up), following means being at the end.
  box.addEventListener("scroll", () => {
    if (box.clientHeight === 0) return; // not laid out (hidden, or not in the page yet)
    follow.checked = atBottom();
    if (onChange) onChange({ following: follow.checked, scrollTop: box.scrollTop });
  });
  follow.addEventListener("change", () => {
    if (follow.checked) scrollToEnd();
    if (onChange) onChange({ following: follow.checked, scrollTop: box.scrollTop });
  });
  // Lines set before the box was laid out could not be scrolled to: do it once it has a size.
  let pendingTop = null;
  if (typeof ResizeObserver !== "undefined") {
    new ResizeObserver(() => {
      if (box.clientHeight === 0) return;
      if (follow.checked) scrollToEnd();
      else if (pendingTop !== null) box.scrollTop = pendingTop;
      pendingTop = null;
    }).observe(box);
  }

  function scrollToEnd() {
    box.scrollTop = box.scrollHeight;
  }

  function lineEl(line) {
    const stream = line.stream === "stderr" ? "stderr" : line.stream === "stdout" ? "stdout" : "other";
    return h(
      "div",
      { className: `rw-line rw-${stream}`, dataset: { seq: line.seq }, title: `${line.stream} ${formatClock(line.time)}` },
      h("span", { className: "rw-line-time", text: formatClock(line.time) }),
      stream === "stderr" ? h("span", { className: "rw-line-stream", text: "err" }) : null,
      h("span", { className: "rw-line-text", text: line.text }),
    );
  }

  function status() {
    const kept = box.childElementCount;
    const dropped = total - kept;
    earlier.hidden = dropped <= 0;
    earlier.textContent = dropped > 0 ? `${dropped} earlier line${dropped === 1 ? "" : "s"} not shown here.` : "";
    count.textContent = total ? `${total} line${total === 1 ? "" : "s"}` : "";
    empty.hidden = total > 0;
    box.hidden = total === 0;
  }

  /** Replace every line (a snapshot). */
  function setLines(lines, newTotal) {
    const kept = (lines || []).slice(-maxLines);
    const wasFollowing = follow.checked;
    const first = box.firstElementChild;
    const last = box.lastElementChild;
    if (
      kept.length === box.childElementCount &&
      kept.length > 0 &&
      String(kept[0].seq) === first?.dataset.seq &&
      String(kept[kept.length - 1].seq) === last?.dataset.seq
    ) {
      // The same lines (a periodic full view): leave the reader where they are.
      total = newTotal ?? kept.length;
      status();
      return;
    }
    const anchor = wasFollowing ? null : firstVisible();
    replace(box, kept.map(lineEl));
    total = newTotal ?? kept.length;
    status();
    if (wasFollowing) scrollToEnd();
    else if (anchor) {
      // Keep the line the reader was looking at in the same place.
      const same = box.querySelector(`[data-seq="${CSS.escape(anchor.seq)}"]`);
      if (same) box.scrollTop = same.offsetTop - box.offsetTop - anchor.offset;
    }
  }

  function firstVisible() {
    for (const el of box.children) {
      const offset = el.offsetTop - box.offsetTop - box.scrollTop;
      if (offset + el.offsetHeight > 0) return { seq: el.dataset.seq, offset };
    }
    return null;
  }

  /** Add new lines at the end (a delta). */
  function append(lines, newTotal) {
    if (!lines || lines.length === 0) return;
    const following = follow.checked && atBottom();
    const before = box.scrollHeight;
    const fragment = document.createDocumentFragment();
    for (const line of lines.slice(-maxLines)) fragment.appendChild(lineEl(line));
    box.appendChild(fragment);
    // Drop the oldest lines past the bound; keep what the reader looks at where it was.
    let removedHeight = 0;
    while (box.childElementCount > maxLines) {
      const first = box.firstElementChild;
      removedHeight += first.offsetHeight || 0;
      box.removeChild(first);
    }
    total = newTotal ?? total + lines.length;
    status();
    if (following) scrollToEnd();
    else if (removedHeight && box.scrollTop > 0) {
      box.scrollTop = Math.max(0, box.scrollTop - removedHeight);
    }
    return before;
  }

  /** Put back where the reader was (e.g. in an earlier view of the same run). */
  function restore(view) {
    if (!view) return;
    follow.checked = view.following !== false;
    if (follow.checked) scrollToEnd();
    else {
      pendingTop = view.scrollTop ?? 0;
      box.scrollTop = pendingTop;
    }
  }

  return {
    el,
    setLines,
    append,
    restore,
    get following() {
      return follow.checked;
    },
    set following(value) {
      follow.checked = value;
      if (value) scrollToEnd();
    },
    box,
  };
}
