// The chart controls of the notebook widget, on the kernel's bqplot figures, done in the
// browser so that they work while a cell runs: smoothing and zoomed ranges drawn in each
// series' overlay line, the log y scale and the wall-time x scale swapped in, series hidden, the values under the
// cursor and the drag to zoom on a layer over the plot area, PNG from bqplot's own export.
// What only the kernel has (every point of a metric) is asked for in a message; the answer
// comes when the kernel is free. A zoom shows the points it has at once, then the range at
// full resolution.
import { h } from "./components/dom.js";
import { iterationLabels, iterationsCsv } from "./components/iterations.js";
import { ITERATION_CHART_PREFIX } from "./page.js";
import { answerBlob, createKernelRequests } from "./kernelrequests.js";
import { DEFAULT_CONTROLS, X_AXIS_LABELS, downloadBlob, fileName, formatNumber, formatX, smooth } from "./components/chartcontrols.js";

/** The index of the point of sorted `xs` nearest to `x`. */
export function nearest(xs, x) {
  let lo = 0;
  let hi = xs.length - 1;
  if (hi < 0) return -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && Math.abs(xs[lo - 1] - x) <= Math.abs(xs[lo] - x) ? lo - 1 : lo;
}

/**
 * Round ticks for a log axis over [lo, hi]: 1, 2 and 5 times powers of ten, or the powers
 * alone over many decades (d3 labels every tick: 0.06, 0.07, 0.08...). Null: let bqplot.
 */
export function logTicks(lo, hi) {
  if (!(lo > 0) || !(hi > lo)) return null;
  const ticks = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of [1, 2, 5]) {
      const t = Number((m * 10 ** k).toPrecision(6));
      if (t >= lo && t <= hi) ticks.push(t);
    }
  }
  const powers = ticks.filter((t) => Number.isInteger(Math.log10(t)) || Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9);
  if (ticks.length > 8 && powers.length >= 2) return powers;
  return ticks.length >= 2 ? ticks : null;
}

/**
 * @param {object} model the RunDetails model
 * @param {() => object} getState the view-model state
 */
export function createFigureControls(model, getState) {
  const charts = new Map(); // chart id -> {view, controls, zoom, overlayLayer}
  const { ask, onMessage } = createKernelRequests(model);

  const manager = () => model.widget_manager;
  const ids = (chartId) => model.get("_charts")?.[chartId];
  const iterationMetric = (chartId) => (chartId.startsWith(ITERATION_CHART_PREFIX) ? chartId.slice(ITERATION_CHART_PREFIX.length) : null);
  /** A chart's spec; an iteration chart's is made from the iterations the view model sent. */
  function specOf(chartId) {
    const metric = iterationMetric(chartId);
    if (metric === null) return getState()?.charts?.find((c) => c.id === chartId);
    const meta = getState()?.iterations;
    if (!meta?.metrics?.includes(metric)) return null;
    return { id: chartId, name: metric, x_label: "iteration", series: iterationLabels(metric).map((label) => ({ label })), iterations: true };
  }

  async function models(chartId) {
    const m = ids(chartId);
    if (!m || !m.scales) return null; // a figure of a kernel older than the controls
    const get = (id) => manager().get_model(id);
    const sids = Object.keys(m.series);
    // A figure made before the wall-time axis existed has none (the option is not offered).
    const maybe = (id) => (id ? get(id) : null);
    const [lines, overlays, x, y, logY, dateX, xAxis, yAxis, logAxis, dateAxis, figure] = await Promise.all([
      Promise.all(sids.map((s) => get(m.series[s]))),
      Promise.all(sids.map((s) => (m.overlay ? get(m.overlay[s]) : null))), // none on an iteration chart
      get(m.scales.x),
      get(m.scales.y),
      get(m.scales.log_y),
      maybe(m.scales.date_x),
      get(m.axes.x),
      get(m.axes.y),
      get(m.axes.log_y),
      maybe(m.axes.date_x),
      get(m.figure),
    ]);
    return { sids, lines, overlays, x, y, logY, dateX, xAxis, yAxis, logAxis, dateAxis, figure };
  }

  function chart(chartId) {
    let c = charts.get(chartId);
    if (!c) {
      c = { view: null, controls: { ...DEFAULT_CONTROLS, hidden: [] }, zoom: null, axisData: null };
      charts.set(chartId, c);
    }
    return c;
  }

  /** Draw a chart's lines as its controls and zoom say. */
  async function apply(chartId) {
    try {
      await draw(chartId);
    } catch (e) {
      console.warn("runwidget: chart controls not applied", e);
      const holder = charts.get(chartId)?.view?.el?.parentElement;
      if (holder) holder.dataset.error = String(e);
    }
  }

  async function draw(chartId) {
    const c = chart(chartId);
    const m = await models(chartId);
    const spec = specOf(chartId);
    if (!m || !spec) return;
    const { smoothing, logY, hidden } = c.controls;
    const yScale = logY ? m.logY : m.y;
    // Wall time is drawn on a date scale, whose values are milliseconds (the kernel's are s).
    const wall = c.controls.x === "wall" && m.dateX !== null;
    const xScale = wall ? m.dateX : m.x;
    const toX = wall ? (v) => v * 1000 : (v) => v;
    const labels = spec.series.map((s) => s.label);
    if (spec.iterations) {
      // All the points are here (an iteration each): shown or hidden, on the y scale drawn.
      m.lines.forEach((mark, i) => {
        if (mark.get("scales")?.y !== yScale) mark.set({ scales: { x: m.x, y: yScale } });
        mark.set({ visible: !hidden.includes(labels[i]) });
      });
    }
    if (!spec.iterations) m.sids.forEach((sid, i) => {
      const line = m.lines[i];
      const overlay = m.overlays[i];
      const shown = !hidden.includes(labels[i] ?? sid);
      const zoomed = c.zoom?.data?.[sid] ?? (c.controls.x !== "data" ? c.axisData?.[sid] : null);
      let ox = null;
      let oy = null;
      if (zoomed) {
        ox = Float64Array.from(zoomed.x, toX);
        oy = smoothing ? Float64Array.from(smooth(zoomed.x, zoomed.y, smoothing), (v) => (v === null ? NaN : v)) : Float64Array.from(zoomed.y);
      } else if (smoothing) {
        const x = Array.from(line.get("x") ?? []);
        ox = Float64Array.from(x);
        oy = Float64Array.from(smooth(x, Array.from(line.get("y") ?? []), smoothing), (v) => (v === null ? NaN : v));
      }
      // A new scale makes bqplot draw a mark's scales anew: only when it changed. The
      // kernel's line keeps the chart's own x (its points are steps).
      for (const [mark, x] of [
        [line, m.x],
        [overlay, xScale],
      ]) {
        const now = mark.get("scales");
        if (now?.y !== yScale || now?.x !== x) mark.set({ scales: { x, y: yScale } });
      }
      // The kernel's line has x = the chart's own: on a time axis only the overlay is drawn.
      const own = c.controls.x === "data";
      if (!own && !zoomed) ox = null;
      line.set({ visible: shown && own && (!zoomed || smoothing > 0), opacities: [smoothing ? 0.3 : 1] });
      if (ox) overlay.set({ x: ox, y: oy, visible: shown });
      else overlay.set({ visible: false });
    });
    // The figure draws a new axis whole (a scale swapped inside an axis keeps old ranges).
    const yAxis = logY ? m.logAxis : m.yAxis;
    const yRange = c.zoom?.yRange ?? { min: null, max: null };
    if (logY) {
      let lo = yRange.min;
      let hi = yRange.max;
      if (lo === null || hi === null) {
        lo = Infinity;
        hi = -Infinity;
        for (const line of m.lines) {
          const ys = line.get("y") ?? [];
          for (let i = 0; i < ys.length; i++) {
            if (ys[i] > 0 && ys[i] < lo) lo = ys[i];
            if (ys[i] > hi) hi = ys[i];
          }
        }
      }
      try {
        m.logAxis.set({ tick_values: logTicks(lo, hi) });
      } catch (e) {
        console.warn("runwidget: log ticks left to bqplot", e);
      }
    }
    const xAxis = wall ? m.dateAxis : m.xAxis;
    const axes = m.figure.get("axes");
    if (axes?.[0] !== xAxis || axes?.[1] !== yAxis) m.figure.set({ axes: [xAxis, yAxis] });
    let range = c.zoom ? { min: c.zoom.min, max: c.zoom.max } : { min: null, max: null };
    if (!c.zoom && c.controls.x !== "data" && c.axisData) {
      // The hidden lines' steps would stretch the scale: fit it to the times.
      const xs = Object.values(c.axisData).flatMap((d) => (d.x.length ? [d.x[0], d.x[d.x.length - 1]] : []));
      if (xs.length) range = { min: Math.min(...xs), max: Math.max(...xs) };
    }
    xScale.set(range.min === null ? range : { min: toX(range.min), max: toX(range.max) });
    if (m.dateX) (wall ? m.x : m.dateX).set({ min: null, max: null });
    yScale.set(yRange);
    (logY ? m.y : m.logY).set({ min: null, max: null });
    const holder = c.view?.el?.parentElement;
    if (holder) {
      holder.dataset.smoothing = String(smoothing);
      holder.dataset.logY = logY ? "1" : "";
      holder.dataset.hidden = hidden.join(",");
      holder.dataset.zoomed = c.zoom ? "1" : "";
      holder.dataset.zoomLoaded = c.zoom?.data ? "1" : "";
      holder.dataset.x = c.controls.x;
      holder.dataset.axisLoaded = c.axisData ? "1" : "";
    }
  }

  /** The figure view of a chart was drawn: lay the cursor's layer over its plot area. */
  function mounted(chartId, view) {
    const c = chart(chartId);
    c.view = view;
    const holder = view.el.parentElement;
    // Each view of the figure (the output is drawn anew at times) gets its own layer.
    if (!holder || view.rwLayer) return apply(chartId);
    holder.classList.add("rw-figure-holder");
    const layer = h("div", { className: "rw-figure-layer" });
    const band = h("div", { className: "rw-figure-band" });
    const tooltip = h("div", { className: "rw-chart-tooltip" });
    band.hidden = true;
    tooltip.hidden = true;
    layer.append(band, tooltip);
    holder.appendChild(layer);
    view.rwLayer = layer;
    const place = () => {
      const m = view.margin || { top: 36, left: 64, right: 16, bottom: 44 };
      const width = view.plotareaWidth > 0 ? view.plotareaWidth : view.el.clientWidth - m.left - m.right;
      const height = view.plotareaHeight > 0 ? view.plotareaHeight : view.el.clientHeight - m.top - m.bottom;
      Object.assign(layer.style, { left: `${view.el.offsetLeft + m.left}px`, top: `${view.el.offsetTop + m.top}px`, width: `${Math.max(0, width)}px`, height: `${Math.max(0, height)}px` });
    };
    // A figure drawn while its output was off the page has a plot area of 0 until bqplot lays
    // it out again, after the resize is seen: place the layer then too, and when the pointer
    // comes over the chart.
    const placeSoon = () => {
      place();
      requestAnimationFrame(place);
      setTimeout(place, 250);
      setTimeout(place, 1000);
    };
    placeSoon();
    const resized = new ResizeObserver(placeSoon);
    resized.observe(view.el);
    view.on?.("remove", () => resized.disconnect()); // the output was drawn anew or closed
    holder.addEventListener("mouseenter", place);
    // The x value under a pixel, in the kernel's units (a date scale's are milliseconds).
    const xAt = async (px) => {
      const axes = await Promise.all(view.axis_views?.views ?? []);
      const scale = axes.find((a) => a && !a.vertical)?.axis_scale?.scale;
      if (!scale) return null;
      const x = scale.invert(px);
      return x instanceof Date ? x.getTime() / 1000 : x;
    };
    const offsetX = (e) => e.clientX - layer.getBoundingClientRect().left;
    let start = null;
    layer.addEventListener("mousedown", (e) => {
      // The drag is ours: the notebook would start selecting cells (and swallow the mouseup).
      e.preventDefault();
      e.stopPropagation();
      start = offsetX(e);
      band.hidden = false;
      Object.assign(band.style, { left: `${start}px`, width: "0px" });
    });
    layer.addEventListener("mousemove", async (e) => {
      place();
      const x = offsetX(e);
      if (start !== null) {
        Object.assign(band.style, { left: `${Math.min(start, x)}px`, width: `${Math.abs(x - start)}px` });
      }
      const at = await xAt(x);
      if (at !== null) showTooltip(chartId, tooltip, at, x, e.clientY - layer.getBoundingClientRect().top, layer.clientWidth);
    });
    layer.addEventListener("mouseleave", () => {
      tooltip.hidden = true;
    });
    const onUp = async (e) => {
      if (!layer.isConnected && !holder.isConnected) {
        window.removeEventListener("mouseup", onUp, true);
        return;
      }
      if (start === null) return;
      const from = start;
      start = null;
      band.hidden = true;
      const to = offsetX(e);
      if (Math.abs(to - from) < 4) return;
      const [a, b] = [await xAt(Math.min(from, to)), await xAt(Math.max(from, to))];
      if (a !== null && b !== null) zoomTo(chartId, a, b);
    };
    // In the capture phase: JupyterLab's notebook stops the mouseup on its way down.
    window.addEventListener("mouseup", onUp, true);
    layer.addEventListener("dblclick", () => resetZoom(chartId));
    return apply(chartId);
  }

  async function showTooltip(chartId, tooltip, x, px, py, width) {
    const c = chart(chartId);
    const m = await models(chartId);
    const spec = specOf(chartId);
    if (!m || !spec) return;
    const axis = c.controls.x;
    const xLabel = (axis === "data" ? spec.x_label : X_AXIS_LABELS[axis]) || "x";
    const rows = [h("div", { className: "rw-tooltip-x", text: `${xLabel}: ${formatX(x, axis)}` })];
    m.sids.forEach((sid, i) => {
      const label = spec.series[i]?.label ?? sid;
      if (c.controls.hidden.includes(label)) return;
      const zoomed = c.zoom?.data?.[sid] ?? (c.controls.x !== "data" ? c.axisData?.[sid] : null);
      const xs = zoomed ? zoomed.x : m.lines[i].get("x") ?? [];
      const ys = zoomed ? zoomed.y : m.lines[i].get("y") ?? [];
      const k = nearest(xs, x);
      if (k < 0) return;
      let text = `${label}: ${formatNumber(ys[k])}`;
      if (c.controls.smoothing) {
        const oy = m.overlays[i].get("y");
        text = `${label}: ${formatNumber(oy?.[k])} (raw ${formatNumber(ys[k])})`;
      }
      const colour = spec.series[i]?.colour;
      rows.push(h("div", {}, h("span", { className: "rw-tooltip-mark", style: { background: colour } }), text));
      if (i === 0) rows[0].textContent = `${xLabel}: ${formatX(xs[k], axis)}`;
    });
    tooltip.replaceChildren(...rows);
    tooltip.hidden = false;
    const w = tooltip.offsetWidth;
    const left = px + 12 + w <= width ? px + 12 : px - 12 - w >= 0 ? px - 12 - w : Math.max(0, width - w);
    Object.assign(tooltip.style, { left: `${left}px`, top: `${Math.max(0, py - 10)}px` });
  }

  async function zoomTo(chartId, from, to) {
    const c = chart(chartId);
    const zoom = { min: from, max: to, data: null };
    c.zoom = zoom;
    await apply(chartId); // the points the browser has, at once
    const spec = specOf(chartId);
    if (!spec) return;
    const shown = (i) => !c.controls.hidden.includes(spec.series[i]?.label);
    try {
      if (spec.iterations) {
        // Every iteration is drawn already: fit y to the points in the range.
        const m = await models(chartId);
        const ys = m.lines.filter((_, i) => shown(i)).flatMap((line) => {
          const xs = line.get("x") ?? [];
          return Array.from(line.get("y") ?? []).filter((_, k) => xs[k] >= from && xs[k] <= to);
        });
        zoom.yRange = paddedRange(ys, c.controls.logY);
        zoom.data = {};
      } else {
        const { msg } = await ask({ type: "metric_range", name: spec.name, axis: c.controls.x, from, to });
        if (c.zoom !== zoom) return;
        zoom.data = Object.fromEntries(msg.series.map((s) => [s.id, s]));
        zoom.yRange = paddedRange(msg.series.filter((_, i) => shown(i)).flatMap((s) => s.y), c.controls.logY);
      }
      await apply(chartId);
    } catch (e) {
      console.warn("runwidget: the zoomed range was not read again", e);
    }
  }

  function resetZoom(chartId) {
    chart(chartId).zoom = null;
    return apply(chartId);
  }

  function setControls(chartId, controls) {
    const c = chart(chartId);
    const axisChanged = (controls.x ?? "data") !== c.controls.x;
    c.controls = { ...DEFAULT_CONTROLS, ...controls, hidden: [...(controls.hidden || [])] };
    if (axisChanged) {
      c.zoom = null;
      c.axisData = null;
      labelX(chartId);
      if (c.controls.x !== "data") readAxis(chartId);
    }
    return apply(chartId);
  }

  async function labelX(chartId) {
    const m = await models(chartId);
    const spec = specOf(chartId);
    const x = chart(chartId).controls.x;
    if (m && spec) m.xAxis.set({ label: x === "data" ? spec.x_label : X_AXIS_LABELS[x] });
  }

  /** The series against time, from the kernel (it has the points' times). */
  async function readAxis(chartId) {
    const c = chart(chartId);
    const spec = specOf(chartId);
    if (!spec || c.reading) return;
    const axis = c.controls.x;
    c.reading = true;
    c.readAt = Date.now();
    try {
      const { msg } = await ask({ type: "metric_range", name: spec.name, axis });
      if (c.controls.x !== axis) return;
      c.axisData = Object.fromEntries(msg.series.map((s) => [s.id, s]));
      await apply(chartId);
    } catch (e) {
      console.warn("runwidget: the series against time was not read", e);
    } finally {
      c.reading = false;
    }
  }

  /** The y range of `ys` with a margin (a factor on a log axis); undefined for none. */
  function paddedRange(ys, logY) {
    const finite = ys.filter((v) => Number.isFinite(v) && (!logY || v > 0));
    if (!finite.length) return undefined;
    const lo = Math.min(...finite);
    const hi = Math.max(...finite);
    if (logY) return { min: lo / 1.1, max: hi * 1.1 };
    const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
    return { min: lo - pad, max: hi + pad };
  }

  function png(chartId) {
    const c = charts.get(chartId);
    const name = specOf(chartId)?.name ?? chartId;
    if (c?.view?.save_png) c.view.save_png(fileName(name, "png"));
  }

  /** Every point of the metric: from the Jupyter server's API when it serves the run's store
   * (the portal link says so), else from the kernel. */
  async function csv(chartId) {
    const spec = specOf(chartId);
    const state = getState();
    if (!spec) return;
    if (spec.iterations) {
      downloadBlob(fileName(spec.name, "csv"), new Blob([iterationsCsv(state.iterations, spec.name)], { type: "text/csv;charset=utf-8" }));
      return;
    }
    const portal = state?.header?.portal_url || "";
    const match = portal.match(/^(.*\/runwidget)\/runs\/([^/?#]+)$/);
    if (match && portal.startsWith(window.location.origin)) {
      const href = `${match[1]}/api/runs/${match[2]}/metrics/${encodeURIComponent(spec.name)}.csv`;
      const a = h("a", { href, attrs: { download: fileName(spec.name, "csv") } });
      document.body.appendChild(a);
      a.click();
      a.remove();
      return;
    }
    const { buffers } = await ask({ type: "metric_csv", name: spec.name });
    downloadBlob(fileName(spec.name, "csv"), answerBlob(buffers));
  }

  /** New points came into a chart's lines: smoothing follows them. */
  function seriesChanged(chartId) {
    const c = charts.get(chartId);
    if (!c) return;
    if (c.controls.x !== "data" && !c.zoom && Date.now() - (c.readAt ?? 0) > 5000) readAxis(chartId);
    else if (c.controls.smoothing || c.zoom) apply(chartId);
  }

  return { mounted, setControls, resetZoom, png, csv, onMessage, seriesChanged, apply, charts };
}
