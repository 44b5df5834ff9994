// The rich metrics' drawings: what the view model sends is placed, names stay text.
import { describe, expect, it } from "vitest";
import { createPlots } from "../components/plots.js";
import { applyDelta } from "../state.js";

const XSS = "<img src=x onerror=alert(1)>";

const heatmap = {
  id: "confusion_matrix:cm",
  name: XSS,
  schema_type: "confusion_matrix",
  kind: "heatmap",
  title: "Confusion matrix",
  x_label: "Predicted label",
  y_label: "True label",
  labels: [XSS, "dog"],
  cells: [
    [3, 1],
    [0, 4],
  ],
  shade: [
    [0.75, 0.25],
    [0, 1],
  ],
  note: null,
};
const curves = {
  id: "accuracy_table:acc",
  name: "acc",
  kind: "curves",
  title: "Accuracy table",
  panels: [
    { title: "ROC", x_label: "False positive rate", y_label: "True positive rate", diagonal: true, series: [{ label: "1", colour: "#1f77b4", x: [0, 0.2, 1], y: [0, 0.8, 1] }] },
    { title: "Precision-recall", x_label: "Recall", y_label: "Precision", diagonal: false, series: [{ label: "1", colour: "#1f77b4", x: [0.8, 1], y: [0.8, 0.5] }] },
  ],
};
const histogram = { id: "residuals:r", name: "r", kind: "histogram", title: "Residuals", x_label: "Residual", y_label: "Count", edges: [0, 1, 2], counts: [3, 4], bars: ["0 to 1: 3", "1 to 2: 4"], colour: "#1f77b4" };

describe("plots", () => {
  it("draws a cell per class pair, shaded as sent, with labels as text", () => {
    const plots = createPlots();
    plots.update([heatmap]);
    const cells = plots.el.querySelectorAll(".rw-heat-cell");
    expect(cells.length).toBe(4);
    expect(cells[0].querySelector("rect").getAttribute("fill-opacity")).toBe((0.06 + 0.94 * 0.75).toFixed(3));
    expect(cells[1].textContent).toContain("1");
    expect(plots.el.querySelector("img")).toBeNull();
    expect(plots.el.querySelector(".rw-plot-title").textContent).toContain(XSS);
    // A long label is cut, with the whole of it as its tooltip, as text.
    const label = [...plots.el.querySelectorAll("text")].find((t) => t.querySelector("title")?.textContent === XSS);
    expect(label.firstChild.textContent).toBe(`${XSS.slice(0, 15)}\u2026`);
    expect(plots.el.textContent).toContain("Predicted label");
  });

  it("draws ROC and precision-recall panels and histogram bars with their texts", () => {
    const plots = createPlots();
    plots.update([curves, histogram]);
    const panels = plots.el.querySelectorAll(".rw-plot-panel");
    expect([...panels].map((p) => p.querySelector(".rw-plot-subtitle").textContent)).toEqual(["ROC", "Precision-recall"]);
    expect(panels[0].querySelector(".rw-plot-diagonal")).not.toBeNull();
    expect(panels[1].querySelector(".rw-plot-diagonal")).toBeNull();
    expect(panels[0].querySelector("polyline").getAttribute("points").split(" ").length).toBe(3);
    const bars = plots.el.querySelectorAll(".rw-plot-bar");
    expect([...bars].map((b) => b.querySelector("title").textContent)).toEqual(histogram.bars);
  });

  it("a delta's plots replace the state's", () => {
    const state = { version: 1, plots: [heatmap] };
    applyDelta(state, { version: 2, base: 1, plots: [heatmap, histogram] });
    expect(state.plots.map((p) => p.id)).toEqual([heatmap.id, histogram.id]);
  });
});
