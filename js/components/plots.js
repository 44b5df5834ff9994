// Rich metrics as the view model sends them (runwidget/view/plots.py): a confusion matrix's
// heat map, an accuracy table's ROC and precision-recall curves, histograms of predictions
// and residuals. Drawn as SVG; every name and label goes in as text.
import { h, replace, svg } from "./dom.js";

const W = 300;
const H = 240;
const M = { left: 48, right: 12, top: 10, bottom: 40 };

function fmt(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

function axisTitles(root, w, hgt, xLabel, yLabel) {
  root.appendChild(svg("text", { x: M.left + (w - M.left - M.right) / 2, y: hgt - 4, "text-anchor": "middle", class: "rw-plot-axis-title" }, xLabel));
  root.appendChild(
    svg("text", { x: 12, y: M.top + (hgt - M.top - M.bottom) / 2, "text-anchor": "middle", class: "rw-plot-axis-title", transform: `rotate(-90 12 ${M.top + (hgt - M.top - M.bottom) / 2})` }, yLabel),
  );
}

const MAX_LABEL = 16; // characters of a class label drawn; the whole label is its tooltip

function short(label) {
  const text = String(label);
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}\u2026` : text;
}

/** A class label as SVG text, cut to MAX_LABEL characters, the whole label as its tooltip. */
function labelText(attrs, label) {
  return svg("text", attrs, short(label), svg("title", {}, String(label)));
}

/** A confusion matrix: one cell per (true, predicted) class, shaded by its share of the row. */
export function drawHeatmap(spec) {
  const labels = spec.labels || [];
  const n = labels.length;
  const cell = Math.max(18, Math.min(56, Math.floor(320 / Math.max(n, 1))));
  // Room for the longest label: beside the rows, and below the columns (turned by 40°).
  const longest = Math.max(1, ...labels.map((l) => short(l).length)) * 6.5;
  const left = 24 + longest + 6;
  const top = 8;
  const below = 10 + longest * 0.65;
  const width = left + n * cell + 10;
  const height = top + n * cell + below + 24;
  const root = svg("svg", { class: "rw-plot-svg rw-heatmap", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": spec.title });
  spec.cells.forEach((row, i) => {
    root.appendChild(labelText({ x: left - 6, y: top + i * cell + cell / 2 + 4, "text-anchor": "end", class: "rw-plot-tick" }, labels[i]));
    row.forEach((count, j) => {
      const shade = spec.shade[i][j];
      const g = svg("g", { class: "rw-heat-cell", "data-row": i, "data-col": j });
      g.appendChild(svg("rect", { x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1, fill: "var(--rw-accent)", "fill-opacity": (0.06 + 0.94 * shade).toFixed(3) }));
      g.appendChild(svg("text", { x: left + j * cell + cell / 2, y: top + i * cell + cell / 2 + 4, "text-anchor": "middle", class: shade > 0.5 ? "rw-heat-text rw-heat-dark" : "rw-heat-text" }, fmt(count)));
      g.appendChild(svg("title", {}, `true ${labels[i]}, predicted ${labels[j]}: ${fmt(count)} (${(shade * 100).toFixed(1)}% of the row)`));
      root.appendChild(g);
    });
  });
  labels.forEach((label, j) => {
    const x = left + j * cell + cell / 2;
    const y = top + n * cell + 12;
    root.appendChild(labelText({ x, y, "text-anchor": "end", class: "rw-plot-tick", transform: `rotate(-40 ${x} ${y})` }, label));
  });
  root.appendChild(svg("text", { x: left + (n * cell) / 2, y: height - 6, "text-anchor": "middle", class: "rw-plot-axis-title" }, spec.x_label));
  root.appendChild(svg("text", { x: 12, y: top + (n * cell) / 2, "text-anchor": "middle", class: "rw-plot-axis-title", transform: `rotate(-90 12 ${top + (n * cell) / 2})` }, spec.y_label));
  return root;
}

function frame(xLabel, yLabel, title) {
  const root = svg("svg", { class: "rw-plot-svg", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  root.appendChild(svg("rect", { x: M.left, y: M.top, width: pw, height: ph, class: "rw-plot-frame" }));
  axisTitles(root, W, H, xLabel, yLabel);
  return { root, pw, ph };
}

/** One panel of curves on 0..1 axes (ROC, precision-recall). */
function drawPanel(panel) {
  const { root, pw, ph } = frame(panel.x_label, panel.y_label, panel.title);
  const sx = (v) => M.left + v * pw;
  const sy = (v) => M.top + (1 - v) * ph;
  for (const t of [0, 0.5, 1]) {
    root.appendChild(svg("text", { x: sx(t), y: M.top + ph + 14, "text-anchor": "middle", class: "rw-plot-tick" }, String(t)));
    root.appendChild(svg("text", { x: M.left - 6, y: sy(t) + 4, "text-anchor": "end", class: "rw-plot-tick" }, String(t)));
  }
  if (panel.diagonal) root.appendChild(svg("line", { x1: sx(0), y1: sy(0), x2: sx(1), y2: sy(1), class: "rw-plot-diagonal" }));
  for (const s of panel.series) {
    if (!s.x.length) continue;
    const points = s.x.map((x, i) => `${sx(x).toFixed(1)},${sy(s.y[i]).toFixed(1)}`).join(" ");
    const line = svg("polyline", { points, fill: "none", stroke: s.colour, "stroke-width": 2, class: "rw-plot-curve" });
    line.appendChild(svg("title", {}, s.label));
    root.appendChild(line);
  }
  const legend = h(
    "div",
    { className: "rw-legend" },
    panel.series.length > 1 || panel.series[0]?.label ? panel.series.map((s) => h("span", { className: "rw-legend-item" }, h("span", { className: "rw-legend-line", style: { background: s.colour } }), s.label)) : [],
  );
  return h("div", { className: "rw-plot-panel" }, h("div", { className: "rw-plot-subtitle", text: panel.title }), legend, root);
}

/** A histogram: one bar per bin, its text as a tooltip. */
export function drawHistogram(spec) {
  const { root, pw, ph } = frame(spec.x_label, spec.y_label, spec.title);
  const edges = spec.edges;
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  const top = Math.max(...spec.counts.map((c) => Math.abs(c)), 0) || 1;
  const sx = (v) => M.left + (hi > lo ? ((v - lo) / (hi - lo)) * pw : 0);
  spec.counts.forEach((count, i) => {
    const x0 = sx(edges[i]);
    const x1 = hi > lo ? sx(edges[i + 1]) : M.left + pw;
    const barH = (Math.max(count, 0) / top) * ph;
    const bar = svg("rect", { x: x0 + 0.5, y: M.top + ph - barH, width: Math.max(x1 - x0 - 1, 1), height: barH, fill: spec.colour, class: "rw-plot-bar" });
    bar.appendChild(svg("title", {}, spec.bars[i]));
    root.appendChild(bar);
  });
  for (const v of [lo, (lo + hi) / 2, hi]) root.appendChild(svg("text", { x: sx(v), y: M.top + ph + 14, "text-anchor": "middle", class: "rw-plot-tick" }, fmt(v)));
  root.appendChild(svg("text", { x: M.left - 6, y: M.top + 4, "text-anchor": "end", class: "rw-plot-tick" }, fmt(top)));
  root.appendChild(svg("text", { x: M.left - 6, y: M.top + ph + 4, "text-anchor": "end", class: "rw-plot-tick" }, "0"));
  return root;
}

function drawPlot(spec) {
  const body =
    spec.kind === "heatmap"
      ? spec.note
        ? h("div", { className: "rw-chart-placeholder", text: spec.note })
        : drawHeatmap(spec)
      : spec.kind === "curves"
        ? h("div", { className: "rw-plot-panels" }, spec.panels.map(drawPanel))
        : spec.kind === "histogram"
          ? drawHistogram(spec)
          : h("div", { className: "rw-chart-placeholder", text: `${spec.name}: cannot draw a ${spec.kind}` });
  return h(
    "figure",
    { className: `rw-plot rw-plot-${spec.kind}`, dataset: { plot: spec.id } },
    h("figcaption", { className: "rw-plot-title" }, h("span", { text: spec.name }), h("span", { className: "rw-plot-kind", text: spec.title })),
    body,
  );
}

export function createPlots() {
  const el = h("div", { className: "rw-plots" });
  let key = null;
  function update(plots) {
    const next = JSON.stringify(plots || []);
    if (next === key) return;
    key = next;
    replace(el, (plots || []).map(drawPlot));
    el.hidden = !plots || plots.length === 0;
  }
  return { el, update };
}
