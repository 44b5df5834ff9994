// Line charts drawn with uPlot (small, fast, canvas): the metric charts of a run page and
// the overlays of the compare page. Labels are drawn on canvas or set as text.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "../components/dom.js";
import { PALETTE } from "../components/palette.js";
import { DEFAULT_CONTROLS, X_AXIS_LABELS, formatNumber, formatX, smooth } from "../components/chartcontrols.js";

// The view model names each series' colour; the palette is for series it did not colour.
export { PALETTE };

/**
 * uPlot wants one x array shared by every series: merge the series' x values and put null
 * where a series has no point (lines span those gaps). Points are sorted by x.
 * @param {Array<{x: number[], y: number[]}>} series
 * @returns {Array<Array<number|null>>} [xs, ys1, ys2, ...]
 */
export function alignSeries(series) {
  if (series.length === 1) {
    const { x, y } = series[0];
    const order = [...x.keys()];
    let sorted = true;
    for (let i = 1; i < x.length; i++) if (x[i] < x[i - 1]) sorted = false;
    if (!sorted) order.sort((a, b) => x[a] - x[b] || a - b);
    return [order.map((i) => x[i]), order.map((i) => y[i])];
  }
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const where = new Map(xs.map((x, i) => [x, i]));
  return [
    xs,
    ...series.map((s) => {
      const ys = new Array(xs.length).fill(null);
      for (let i = 0; i < s.x.length; i++) ys[where.get(s.x[i])] = s.y[i];
      return ys;
    }),
  ];
}

function readableWidth(el) {
  return Math.max(240, Math.floor(el.clientWidth || el.getBoundingClientRect().width || 360));
}

/** `colour` with an alpha (hex colours only; others as they are). */
function faint(colour, alpha = "44") {
  return /^#[0-9a-f]{6}$/i.test(colour) ? colour + alpha : colour;
}

/**
 * A line chart in `el`.
 * @param {HTMLElement} el
 * @param {object} options
 * @param {string} options.title
 * @param {string} [options.xLabel]
 * @param {string} [options.yLabel]
 * @param {number} [options.height]
 * @param {boolean} [options.legend] show uPlot's legend (default: with several series)
 * @param {Array<{label: string, kind?: "line"|"points"|"step", colour?: string}>} options.series
 * @param {(axis: string, from: number|null, to: number|null) => Promise<Array<{x: number[], y: number[]}>>} [options.fetchRange]
 *   the series on another x axis, or a zoomed range at full resolution (from the store)
 */
export function createLineChart(el, { title, xLabel = "", yLabel = "", height = 220, series, legend = null, fetchRange = null }) {
  const titleEl = h("div", { className: "rw-chart-title", text: title });
  const plotEl = h("div", { className: "rw-chart-plot" });
  const tooltip = h("div", { className: "rw-chart-tooltip" });
  tooltip.hidden = true;
  el.append(titleEl, plotEl);
  let plot = null;
  let meta = series;
  let controls = { ...DEFAULT_CONTROLS, hidden: [] };
  let live = []; // the view model's series, one {x, y} per series
  let axisData = null; // the series on a time axis, read from the store
  let zoom = null; // {min, max, data}: a range read again at full resolution
  let internal = false; // a scale change of ours, not the reader's drag
  let fetchedAt = 0;
  let asked = 0; // the latest read asked for (older answers are dropped)

  const smoothing = () => (controls.smoothing > 0 && meta.every((s) => !s.kind || s.kind === "line") ? controls.smoothing : 0);

  // Axis text and grid in the page's colours (JupyterLab's dark theme included).
  function axisColours() {
    const style = getComputedStyle(el);
    const text = style.color || "#000";
    const grid = style.getPropertyValue("--rw-border").trim() || "rgba(0, 0, 0, 0.07)";
    return { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  }

  function options() {
    const smoothed = smoothing() > 0;
    const colours = axisColours();
    const uSeries = [];
    meta.forEach((s, i) => {
      const colour = s.colour || PALETTE[i % PALETTE.length];
      const show = !controls.hidden.includes(s.label);
      const base = { label: s.label, stroke: colour, width: 1.5, spanGaps: true, show };
      if (s.kind === "points") uSeries.push({ ...base, paths: () => null, points: { show: true, size: 6, fill: colour } });
      else if (s.kind === "step") uSeries.push({ ...base, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } });
      else if (smoothed) {
        // The raw line stays, faint, beneath its smoothed line.
        uSeries.push({ ...base, label: `${s.label} (raw)`, stroke: faint(colour), width: 1, points: { show: false } });
        uSeries.push({ ...base, width: 2, points: { show: false } });
      } else uSeries.push({ ...base, points: { show: false } });
    });
    return {
      width: readableWidth(el),
      height,
      scales: { x: { time: controls.x === "wall" }, y: controls.logY ? { distr: 3 } : {} },
      legend: { show: legend ?? meta.length > 1, live: false },
      cursor: { drag: { x: true, y: false, setScale: true }, bind: { dblclick: () => () => null } },
      axes: [
        { label: X_AXIS_LABELS[controls.x] || xLabel, labelSize: xLabel || controls.x !== "data" ? 20 : 0, size: controls.x === "wall" ? 52 : 36, ...colours },
        { label: yLabel, labelSize: yLabel ? 20 : 0, size: 56, ...colours },
      ],
      series: [{ label: X_AXIS_LABELS[controls.x] || xLabel || "x", value: (u, v) => formatX(v, controls.x) }, ...uSeries],
      hooks: {
        // A drag's selection (uPlot zooms to it, then clears it): read that range again.
        setSelect: [
          (u) => {
            if (internal || !(u.select.width > 2)) return;
            onZoom(u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x"));
          },
        ],
        setCursor: [(u) => showTooltip(u)],
      },
    };
  }

  function shownData() {
    if (zoom?.data) return zoom.data;
    if (controls.x !== "data") return axisData || meta.map(() => ({ x: [], y: [] }));
    return live;
  }

  function columns() {
    const data = shownData();
    const aligned = alignSeries(data.length ? data : [{ x: [], y: [] }]);
    const weight = smoothing();
    if (!weight) return aligned;
    const out = [aligned[0]];
    for (let i = 1; i < aligned.length; i++) out.push(aligned[i], smooth(aligned[0], aligned[i], weight));
    return out;
  }

  function draw(rebuild = false) {
    const data = columns();
    internal = true;
    try {
      if (!plot || rebuild) {
        if (plot) plot.destroy();
        plot = new uPlot(options(), data, plotEl);
        plot.over.appendChild(tooltip);
        plot.over.addEventListener("dblclick", resetZoom);
        plot.over.addEventListener("mouseleave", () => (tooltip.hidden = true));
      } else plot.setData(data);
    } finally {
      internal = false;
    }
    el.dataset.points = String(data[0].length);
    el.dataset.zoomed = zoom ? "1" : "";
    el.dataset.smoothing = String(smoothing());
    el.dataset.logY = controls.logY ? "1" : "";
    el.dataset.x = controls.x;
    el.dataset.hidden = controls.hidden.join(",");
  }

  function showTooltip(u) {
    const i = u.cursor.idx;
    if (i === null || i === undefined || u.cursor.left < 0) {
      tooltip.hidden = true;
      return;
    }
    const rows = [h("div", { className: "rw-tooltip-x", text: `${u.series[0].label}: ${formatX(u.data[0][i], controls.x)}` })];
    const weight = smoothing();
    let k = 1;
    meta.forEach((s, j) => {
      const colour = s.colour || PALETTE[j % PALETTE.length];
      const raw = u.data[k]?.[i];
      const smoothed = weight ? u.data[k + 1]?.[i] : null;
      const shown = u.series[k]?.show;
      k += weight ? 2 : 1;
      if (!shown || raw === null || raw === undefined) return;
      const text = weight ? `${s.label}: ${formatNumber(smoothed)} (raw ${formatNumber(raw)})` : `${s.label}: ${formatNumber(raw)}`;
      rows.push(h("div", {}, h("span", { className: "rw-tooltip-mark", style: { background: colour } }), text));
    });
    tooltip.replaceChildren(...rows);
    tooltip.hidden = false;
    // Right of the cursor, else left of it, else wherever it fits whole.
    const left = u.cursor.left;
    const width = tooltip.offsetWidth;
    const room = u.over.clientWidth;
    const x = left + 12 + width <= room ? left + 12 : left - 12 - width >= 0 ? left - 12 - width : Math.max(0, room - width);
    tooltip.style.left = `${x}px`;
    tooltip.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 10)}px`;
  }

  function onZoom(min, max) {
    if (!Number.isFinite(min) || !Number.isFinite(max)) return;
    zoom = { min, max, data: null };
    el.dataset.zoomed = "1";
    if (!fetchRange) return; // the points drawn are all there are: uPlot's own zoom
    const ask = ++asked;
    fetchRange(controls.x, min, max)
      .then((data) => {
        if (ask !== asked || !zoom || zoom.min !== min) return;
        zoom.data = data;
        draw();
        internal = true;
        try {
          plot.setScale("x", { min, max });
        } finally {
          internal = false;
        }
        el.dataset.zoomLoaded = "1";
      })
      .catch((e) => console.warn("runwidget: could not read the zoomed range", e));
  }

  /** Show the whole series again. */
  function resetZoom() {
    zoom = null;
    asked++;
    el.dataset.zoomLoaded = "";
    draw(true);
  }

  function readAxis() {
    if (!fetchRange || controls.x === "data") return;
    const ask = ++asked;
    fetchedAt = Date.now();
    fetchRange(controls.x, null, null)
      .then((data) => {
        if (ask !== asked || controls.x === "data") return;
        axisData = data;
        if (!zoom) draw();
      })
      .catch((e) => console.warn("runwidget: could not read the series against time", e));
  }

  /** Draw `data` (one {x, y} per series, in the order of `series`). */
  function setData(data, newSeries) {
    const changed = newSeries && JSON.stringify(newSeries) !== JSON.stringify(meta);
    if (newSeries) meta = newSeries;
    live = data;
    if (controls.x !== "data" && Date.now() - fetchedAt > 2000) readAxis();
    if (zoom && plot && !changed) return; // a zoomed chart stays on its range
    draw(!plot || changed);
  }

  /** Set smoothing, log y, the x axis and hidden series ({@link DEFAULT_CONTROLS}). */
  function setControls(next) {
    const axisChanged = next.x !== controls.x;
    controls = { ...DEFAULT_CONTROLS, ...next, hidden: [...(next.hidden || [])] };
    if (axisChanged) {
      zoom = null;
      axisData = null;
      asked++;
      readAxis();
    }
    draw(true);
  }

  /** The chart as a PNG: title and canvas on the page's background. */
  function png() {
    if (!plot) return Promise.resolve(null);
    const source = plot.ctx.canvas;
    const ratio = source.width / plot.width || 1;
    const titleHeight = Math.round(24 * ratio);
    const canvas = document.createElement("canvas");
    canvas.width = source.width;
    canvas.height = source.height + titleHeight;
    const ctx = canvas.getContext("2d");
    const style = getComputedStyle(el);
    let background = style.backgroundColor;
    for (let node = el; node && /rgba\(0, 0, 0, 0\)|transparent/.test(background); node = node.parentElement) {
      background = getComputedStyle(node).backgroundColor;
    }
    ctx.fillStyle = /rgba\(0, 0, 0, 0\)|transparent/.test(background) ? "#ffffff" : background;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = style.color || "#000";
    ctx.font = `600 ${Math.round(13 * ratio)}px sans-serif`;
    ctx.fillText(title, 8 * ratio, 17 * ratio);
    ctx.drawImage(source, 0, titleHeight);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }

  function fitWidth() {
    if (!plot) return;
    const width = readableWidth(el);
    if (Math.abs(width - plot.width) > 4) {
      internal = true;
      try {
        plot.setSize({ width, height });
      } finally {
        internal = false;
      }
    }
  }
  const resize = new ResizeObserver(fitWidth);
  resize.observe(el);
  // A theme change (JupyterLab's light and dark) redraws the axes in the new colours. The
  // page is laid out anew meanwhile, so the width read then can be stale: fit it again.
  const theme = new MutationObserver(() => {
    if (!plot) return;
    draw(true);
    requestAnimationFrame(fitWidth);
    setTimeout(fitWidth, 250);
  });
  theme.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });

  function destroy() {
    resize.disconnect();
    theme.disconnect();
    if (plot) plot.destroy();
    plot = null;
  }

  return { el, setData, setControls, resetZoom, png, destroy, get plot() { return plot; }, get controls() { return controls; } };
}
