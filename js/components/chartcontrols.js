// Chart controls shared by every front end: the smoothing transform (done when drawing: the
// view model sends the raw series), CSV text, the controls' state remembered per browser, and
// the toolbar that sets them. What a chart offers (log y, time axes, CSV) is the view model's
// `controls`; the front ends only draw what the state says.
import { h } from "./dom.js";

export const STORAGE_PREFIX = "runwidget.chart.";
export const X_AXIS_LABELS = { data: null, relative: "relative time (s)", wall: "wall time" };
export const DEFAULT_CONTROLS = Object.freeze({ smoothing: 0, logY: false, x: "data", hidden: [] });

/** A value under the cursor: six significant digits, or exponent form far from 1. */
export function formatNumber(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e6 || a < 1e-4) ? v.toExponential(4) : String(Number(v.toPrecision(6)));
}

/** An x value under the cursor, on the axis the chart is drawn against (times in seconds). */
export function formatX(v, axis) {
  if (axis === "wall") return Number.isFinite(v) ? new Date(v * 1000).toLocaleString() : "–";
  if (axis === "relative") return `${formatNumber(v)} s`;
  return formatNumber(v);
}

/**
 * Time-weighted exponential moving average of `y` over `x`: each point's weight decays with
 * its distance along x, not its index, so that unevenly spaced points (a downsampled series,
 * a gap in logging) smooth as the evenly spaced points they stand for. With evenly spaced x
 * it is the usual EMA `s = w * s + (1 - w) * y`, debiased at the start (TensorBoard's rule).
 * Non-finite values and nulls stay null and do not move the average.
 * @param {ArrayLike<number>} x sorted
 * @param {ArrayLike<number|null>} y
 * @param {number} weight in [0, 1): 0 is no smoothing
 * @returns {Array<number|null>}
 */
export function smooth(x, y, weight) {
  const n = y.length;
  const out = new Array(n);
  if (!(weight > 0)) {
    for (let i = 0; i < n; i++) out[i] = Number.isFinite(y[i]) ? y[i] : null;
    return out;
  }
  const w = Math.min(weight, 0.999);
  // The mean x gap between finite points is the unit in which `w` decays once.
  let first = null;
  let last = null;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] === null || !Number.isFinite(y[i]) || !Number.isFinite(x[i])) continue;
    if (first === null) first = x[i];
    last = x[i];
    count++;
  }
  const unit = count > 1 && last > first ? (last - first) / (count - 1) : 1;
  let value = 0;
  let norm = 0; // the weight given so far, to debias the start
  let prevX = null;
  for (let i = 0; i < n; i++) {
    const yi = y[i];
    if (yi === null || !Number.isFinite(yi) || !Number.isFinite(x[i])) {
      out[i] = null;
      continue;
    }
    const decay = prevX === null ? w : Math.pow(w, Math.max(0, x[i] - prevX) / unit);
    value = decay * value + (1 - decay) * yi;
    norm = decay * norm + (1 - decay);
    // `norm` is 1 - decay^k: dividing removes the bias toward the first value's zero start.
    out[i] = norm > 0 ? value / norm : yi;
    prevX = x[i];
  }
  return out;
}

function csvCell(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
    return String(value);
  }
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * CSV text (RFC 4180: quoted where needed, "\n" line ends), as the server's CSV writes it.
 * @param {string[]} header
 * @param {Array<Array<unknown>>} rows
 */
export function csvText(header, rows) {
  return [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
}

/**
 * Series as CSV columns: x, then one column per series (for charts whose full series is not
 * in a store, such as the iteration charts).
 * @param {string} xLabel
 * @param {Array<{label: string, x: ArrayLike<number>, y: ArrayLike<number>}>} series
 */
export function seriesCsv(xLabel, series) {
  const xs = [...new Set(series.flatMap((s) => Array.from(s.x)))].sort((a, b) => a - b);
  const where = new Map(xs.map((x, i) => [x, i]));
  const rows = xs.map((x) => [x, ...series.map(() => null)]);
  series.forEach((s, k) => {
    for (let i = 0; i < s.x.length; i++) rows[where.get(s.x[i])][k + 1] = s.y[i];
  });
  return csvText([xLabel || "x", ...series.map((s) => s.label)], rows);
}

function storage() {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null; // a sandboxed frame can refuse access
  }
}

/**
 * The controls remembered for a chart (by metric name: "loss" is smoothed alike in every
 * run), with every field checked: a bad or old entry gives the defaults.
 * @param {string} key
 */
export function loadControls(key) {
  let saved;
  try {
    saved = JSON.parse(storage()?.getItem(STORAGE_PREFIX + key) ?? "null");
  } catch {
    saved = null;
  }
  const state = { ...DEFAULT_CONTROLS, hidden: [] };
  if (!saved || typeof saved !== "object") return state;
  if (typeof saved.smoothing === "number" && saved.smoothing >= 0 && saved.smoothing < 1) state.smoothing = saved.smoothing;
  if (typeof saved.logY === "boolean") state.logY = saved.logY;
  if (Object.hasOwn(X_AXIS_LABELS, saved.x)) state.x = saved.x;
  if (Array.isArray(saved.hidden)) state.hidden = saved.hidden.filter((s) => typeof s === "string");
  return state;
}

/** Remember `state` for the chart `key` (the defaults are forgotten, not stored). */
export function saveControls(key, state) {
  const store = storage();
  if (!store) return;
  const same = state.smoothing === 0 && !state.logY && state.x === "data" && !state.hidden.length;
  try {
    if (same) store.removeItem(STORAGE_PREFIX + key);
    else store.setItem(STORAGE_PREFIX + key, JSON.stringify({ smoothing: state.smoothing, logY: state.logY, x: state.x, hidden: state.hidden }));
  } catch {
    // a full or refused storage: the controls still work, unremembered
  }
}

/**
 * What is drawn, from the remembered state and what the view model offers now (a log axis
 * offered before a 0 came is not drawn after it).
 * @param {typeof DEFAULT_CONTROLS} state
 * @param {{log_y?: boolean, x_axes?: string[], smoothing?: boolean}} [offered]
 */
export function effectiveControls(state, offered) {
  const axes = offered?.x_axes ?? ["data"];
  return {
    ...state,
    smoothing: offered?.smoothing === false ? 0 : state.smoothing,
    logY: state.logY && !!offered?.log_y,
    x: axes.includes(state.x) ? state.x : "data",
  };
}

/** Save `blob` as a file named `name` (a link clicked, then let go). */
export function downloadBlob(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, attrs: { download: name } });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A file name from a chart's name ("system/cpu" -> "system_cpu"). */
export function fileName(name, ext) {
  return `${String(name).replace(/[^\w.-]+/g, "_") || "chart"}.${ext}`;
}

/**
 * The toolbar over a chart: smoothing, log y, x axis, reset zoom, PNG and CSV.
 * @param {object} options
 * @param {string} options.key what the state is remembered by (the metric's name)
 * @param {{log_y?: boolean, x_axes?: string[], csv?: boolean, smoothing?: boolean}} [options.offered]
 * @param {string} [options.xLabel] the chart's own x ("step", "index", a column)
 * @param {(state: object) => void} options.onChange the effective state, after each change
 * @param {() => void} [options.onReset] reset the zoom
 * @param {() => void} [options.onPng]
 * @param {() => void} [options.onCsv]
 */
export function createChartToolbar({ key, offered, xLabel = "", onChange, onReset, onPng, onCsv }) {
  let state = loadControls(key);
  let offer = offered || {};
  const slider = h("input", { className: "rw-smooth", attrs: { type: "range", min: "0", max: "0.99", step: "0.01", "aria-label": "Smoothing", title: "Smoothing" } });
  const smoothValue = h("span", { className: "rw-smooth-value" });
  const log = h("input", { attrs: { type: "checkbox", "aria-label": "Log y axis" } });
  const logLabel = h("label", { className: "rw-log", title: "Logarithmic y axis (every value is above 0)" }, log, " log y");
  const xSelect = h("select", { className: "rw-x-axis", attrs: { "aria-label": "x axis" } });
  const button = (text, title, fn) => {
    const b = h("button", { className: "rw-chart-button", text, attrs: { type: "button", title } });
    b.addEventListener("click", () => fn && fn());
    b.hidden = !fn;
    return b;
  };
  const reset = button("Reset zoom", "Show the whole series (or double-click the chart)", onReset);
  const png = button("PNG", "Download the chart as a PNG image", onPng);
  const csv = button("CSV", "Download every point of the series as CSV", onCsv);
  const smoothLabel = h("label", { className: "rw-smooth-label" }, "smooth ", slider, smoothValue);
  const el = h("div", { className: "rw-chart-toolbar" }, smoothLabel, logLabel, xSelect, reset, png, csv);

  function draw() {
    const shown = effectiveControls(state, offer);
    slider.value = String(state.smoothing);
    smoothValue.textContent = state.smoothing ? state.smoothing.toFixed(2) : "off";
    log.checked = shown.logY;
    logLabel.hidden = !offer.log_y;
    smoothLabel.hidden = offer.smoothing === false;
    const axes = offer.x_axes ?? ["data"];
    const options = axes.map((a) => `${a}:${a === "data" ? xLabel : X_AXIS_LABELS[a]}`).join("\u0000");
    if (xSelect.dataset.options !== options) {
      xSelect.dataset.options = options;
      xSelect.replaceChildren(...axes.map((a) => h("option", { value: a, text: a === "data" ? xLabel || "x" : X_AXIS_LABELS[a] })));
    }
    xSelect.value = shown.x;
    xSelect.hidden = axes.length < 2;
    csv.hidden = !onCsv || offer.csv === false;
  }

  function set(change) {
    state = { ...state, ...change };
    saveControls(key, state);
    draw();
    onChange(effectiveControls(state, offer));
  }

  slider.addEventListener("input", () => set({ smoothing: Number(slider.value) }));
  log.addEventListener("change", () => set({ logY: log.checked }));
  xSelect.addEventListener("change", () => set({ x: xSelect.value }));
  draw();

  return {
    el,
    /** The effective state now. */
    get state() {
      return effectiveControls(state, offer);
    },
    /** Show or hide a series (by label), remembered with the rest. */
    toggle(label) {
      const hidden = state.hidden.includes(label) ? state.hidden.filter((s) => s !== label) : [...state.hidden, label];
      set({ hidden });
    },
    /** The view model's offer changed (a first 0 came: no more log axis). */
    offer(next) {
      const before = JSON.stringify(effectiveControls(state, offer));
      offer = next || {};
      draw();
      if (JSON.stringify(effectiveControls(state, offer)) !== before) onChange(effectiveControls(state, offer));
    },
  };
}
