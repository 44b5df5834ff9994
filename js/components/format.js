// Formatting shared by every component: times, durations, values. A status's colour is
// the `status_kind` the view model sends with it.

export const TERMINAL = new Set(["Completed", "Failed", "Canceled"]);

/** The CSS class of a status colour family, as the view model sent it. */
export function statusClass(kind) {
  return `rw-status-${kind || "waiting"}`;
}

/** `1h 02m 03s`, `2m 05s`, `4.2s`; "" for nothing. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "";
  }
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}h ${pad(m)}m ${pad(s)}s` : `${m}m ${pad(s)}s`;
}

/**
 * A list's total as its "N runs" line says it: as counted, or, when the server estimated it
 * (`total_estimated`: a list too large to count at every request), "about" it, to two
 * significant digits.
 */
export function formatTotal(total, estimated = false, noun = "run") {
  if (!estimated) return `${total} ${noun}${total === 1 ? "" : "s"}`;
  const scale = 10 ** Math.max(0, String(Math.round(total)).length - 2);
  return `about ${(Math.round(total / scale) * scale).toLocaleString("en-US")} ${noun}s`;
}

/** Seconds a run has lasted: until it ended, else until `now`. */
export function runDuration(started, ended, now) {
  if (started === null || started === undefined) return null;
  const end = ended ?? now;
  return end === null || end === undefined ? null : Math.max(0, end - started);
}

/** A local date and time, `2024-05-01 13:45:12`. */
export function formatTime(epochSeconds) {
  if (epochSeconds === null || epochSeconds === undefined) return "";
  const d = new Date(epochSeconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** A clock time, `13:45:12`. */
export function formatClock(epochSeconds) {
  return formatTime(epochSeconds).slice(11);
}

/** Numbers with up to 6 significant digits; everything else as its string. */
export function formatValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-4 || abs >= 1e9)) return value.toExponential(4);
    return String(Number(value.toPrecision(6)));
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Compare two cell values for sorting: numbers before text, empty values last. */
export function compareValues(a, b) {
  const emptyA = a === null || a === undefined || a === "";
  const emptyB = b === null || b === undefined || b === "";
  if (emptyA || emptyB) return emptyA === emptyB ? 0 : emptyA ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}
