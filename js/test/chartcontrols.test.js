// Chart controls: the smoothing transform, CSV text, the state remembered per browser, and
// the toolbar and legend the run page draws over a chart whose host can set them.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createChartToolbar, csvText, effectiveControls, loadControls, saveControls, seriesCsv, smooth, STORAGE_PREFIX } from "../components/chartcontrols.js";
import { createRunPage } from "../page.js";

describe("smooth", () => {
  it("is the raw series at 0, nulls for values not drawn", () => {
    expect(smooth([0, 1, 2], [1, NaN, 3], 0)).toEqual([1, null, 3]);
  });

  it("is the debiased EMA on evenly spaced points", () => {
    const w = 0.6;
    const y = [1, 5, 2, 8, 3];
    const x = [0, 1, 2, 3, 4];
    // TensorBoard's rule: s = w s + (1 - w) y from 0, divided by 1 - w^k.
    let s = 0;
    const expected = y.map((v, k) => {
      s = w * s + (1 - w) * v;
      return s / (1 - w ** (k + 1));
    });
    const got = smooth(x, y, w);
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 12));
    expect(got[0]).toBe(1); // starts on the first value, not pulled toward 0
  });

  it("weights by the distance along x: a downsampled series smooths like its points", () => {
    // 0..100 evenly, and the same line with every other point dropped: on a straight
    // line an EMA lags by a constant; dropping points must not change the lag much.
    const x = Array.from({ length: 101 }, (_, i) => i);
    const y = x.map((v) => 2 * v);
    const full = smooth(x, y, 0.9);
    const xs = x.filter((v) => v % 2 === 0);
    const half = smooth(xs, xs.map((v) => 2 * v), 0.9);
    // The mean gap is the unit: 0.9 per 2 steps here, so compare the lag in x units.
    const lagFull = (200 - full[100]) / 2;
    const lagHalf = (200 - half[50]) / 2 / 2;
    expect(lagHalf).toBeCloseTo(lagFull, 0);
    // A gap in logging lets the average catch up further than one step.
    const gap = smooth([0, 1, 2, 50], [0, 0, 0, 10], 0.9);
    const noGap = smooth([0, 1, 2, 3], [0, 0, 0, 10], 0.9);
    expect(gap[3]).toBeGreaterThan(noGap[3]);
  });

  it("keeps a constant constant and never leaves the values' range", () => {
    expect(smooth([0, 1, 2, 3], [4, 4, 4, 4], 0.95).every((v) => Math.abs(v - 4) < 1e-12)).toBe(true);
    const y = [1, 9, 2, 7, 3, 1e-3];
    for (const v of smooth([0, 1, 2, 3, 4, 5], y, 0.8)) expect(v >= 1e-3 && v <= 9).toBe(true);
  });

  it("skips nulls without moving the average", () => {
    expect(smooth([0, 1, 2], [2, null, 2], 0.5)).toEqual([2, null, 2]);
  });
});

describe("CSV", () => {
  it("quotes what needs it and writes numbers as the server does", () => {
    expect(csvText(["a", "b,c"], [[1, 'say "hi"'], [NaN, Infinity], [-Infinity, null]])).toBe(
      'a,"b,c"\n1,"say ""hi"""\nNaN,Infinity\n-Infinity,\n',
    );
  });

  it("puts series side by side on their x", () => {
    const text = seriesCsv("iteration", [
      { label: "acc", x: [0, 1], y: [0.5, 0.6] },
      { label: "best", x: [1, 2], y: [0.6, 0.7] },
    ]);
    expect(text).toBe("iteration,acc,best\n0,0.5,\n1,0.6,0.6\n2,,0.7\n");
  });
});

describe("remembered controls", () => {
  beforeEach(() => localStorage.clear());

  it("round-trips, forgets the defaults and rejects bad entries", () => {
    expect(loadControls("loss")).toEqual({ smoothing: 0, logY: false, x: "data", hidden: [] });
    saveControls("loss", { smoothing: 0.8, logY: true, x: "relative", hidden: ["b"] });
    expect(loadControls("loss")).toEqual({ smoothing: 0.8, logY: true, x: "relative", hidden: ["b"] });
    saveControls("loss", { smoothing: 0, logY: false, x: "data", hidden: [] });
    expect(localStorage.getItem(STORAGE_PREFIX + "loss")).toBe(null);
    localStorage.setItem(STORAGE_PREFIX + "bad", JSON.stringify({ smoothing: 7, logY: "yes", x: "sideways", hidden: [1, "a"] }));
    expect(loadControls("bad")).toEqual({ smoothing: 0, logY: false, x: "data", hidden: ["a"] });
    localStorage.setItem(STORAGE_PREFIX + "broken", "{not json");
    expect(loadControls("broken").smoothing).toBe(0);
  });

  it("draws only what the view model offers now", () => {
    const state = { smoothing: 0.5, logY: true, x: "wall", hidden: [] };
    expect(effectiveControls(state, { log_y: true, x_axes: ["data", "relative", "wall"] })).toMatchObject({ logY: true, x: "wall" });
    expect(effectiveControls(state, { log_y: false, x_axes: ["data"] })).toMatchObject({ logY: false, x: "data", smoothing: 0.5 });
  });

  it("the toolbar sets, remembers and offers", () => {
    const changes = [];
    const toolbar = createChartToolbar({ key: "loss", offered: { log_y: true, x_axes: ["data", "relative", "wall"], csv: true }, xLabel: "step", onChange: (s) => changes.push(s), onCsv: () => {} });
    const slider = toolbar.el.querySelector(".rw-smooth");
    slider.value = "0.7";
    slider.dispatchEvent(new Event("input"));
    const log = toolbar.el.querySelector("input[type=checkbox]");
    log.checked = true;
    log.dispatchEvent(new Event("change"));
    const select = toolbar.el.querySelector("select");
    expect([...select.options].map((o) => o.textContent)).toEqual(["step", "relative time (s)", "wall time"]);
    select.value = "relative";
    select.dispatchEvent(new Event("change"));
    expect(changes.at(-1)).toEqual({ smoothing: 0.7, logY: true, x: "relative", hidden: [] });
    expect(loadControls("loss")).toEqual({ smoothing: 0.7, logY: true, x: "relative", hidden: [] });
    // A first 0 arrives: no more log axis, and the chart is told.
    toolbar.offer({ log_y: false, x_axes: ["data", "relative", "wall"], csv: true });
    expect(changes.at(-1).logY).toBe(false);
    expect(toolbar.el.querySelector(".rw-log").hidden).toBe(true);
    // A new toolbar of the same metric (another run, a reload) starts where this one was.
    const again = createChartToolbar({ key: "loss", offered: { log_y: true, x_axes: ["data"] }, onChange: () => {} });
    expect(again.state).toEqual({ smoothing: 0.7, logY: true, x: "data", hidden: [] });
  });
});

describe("the run page's chart controls", () => {
  beforeEach(() => localStorage.clear());

  const state = () => ({
    version: 1,
    time: 1000,
    header: { run_id: "r1", display_name: "r", experiment: "e", type: "interactive", number: 1, parent_id: null, status: "Running", status_kind: "running", created: 900, started: 900, ended: null, portal_url: "" },
    properties: [],
    charts: [
      {
        id: "m:curve",
        name: "curve",
        title: "curve",
        kind: "xy",
        x_label: "x",
        y_label: "",
        controls: { log_y: true, x_axes: ["data"], csv: true },
        series: [
          { id: "a", label: "a", colour: "#1f77b4", count: 2, skipped: 0, x: [0, 1], y: [1, 2] },
          { id: "b", label: "b", colour: "#ff7f0e", count: 2, skipped: 0, x: [0, 1], y: [2, 3] },
        ],
      },
    ],
    children: { rows: [], columns: [], total: 0 },
    images: [],
    log: { lines: [], total: 0, limit: 1000 },
    error: null,
    terminal: false,
  });

  it("hides a series from the legend, and tells the host", () => {
    const host = { mount: vi.fn(() => true), setControls: vi.fn(), csv: vi.fn(), png: vi.fn(), resetZoom: vi.fn() };
    const page = createRunPage({ chartHost: host });
    page.update(state());
    const slot = page.slots.get("m:curve");
    expect(host.setControls).toHaveBeenCalledWith("m:curve", { smoothing: 0, logY: false, x: "data", hidden: [] });
    const b = [...slot.legend.querySelectorAll(".rw-legend-toggle")].find((el) => el.dataset.label === "b");
    b.click();
    expect(host.setControls).toHaveBeenLastCalledWith("m:curve", expect.objectContaining({ hidden: ["b"] }));
    expect(b.classList.contains("rw-legend-off")).toBe(true);
    for (const [text, fn] of [["CSV", host.csv], ["PNG", host.png], ["Reset zoom", host.resetZoom]]) {
      [...slot.el.querySelectorAll("button")].find((el) => el.textContent === text).click();
      expect(fn).toHaveBeenCalledWith("m:curve");
    }
    // Drawn again (a reload): still hidden.
    const other = createRunPage({ chartHost: { mount: () => true, setControls: vi.fn() } });
    other.update(state());
    const again = [...other.slots.get("m:curve").legend.children].find((el) => el.dataset.label === "b");
    expect(again.classList.contains("rw-legend-off")).toBe(true);
  });

  it("draws no toolbar for a host that cannot set controls", () => {
    const page = createRunPage({ chartHost: { mount: () => true } });
    page.update(state());
    expect(page.slots.get("m:curve").el.querySelector(".rw-chart-toolbar")).toBe(null);
  });
});

describe("the widget's chart helpers", async () => {
  const { logTicks, nearest } = await import("../widgetcharts.js");

  it("finds the nearest point of a sorted series", () => {
    expect(nearest([0, 10, 20], 14)).toBe(1);
    expect(nearest([0, 10, 20], 16)).toBe(2);
    expect(nearest([0, 10, 20], -5)).toBe(0);
    expect(nearest([0, 10, 20], 99)).toBe(2);
    expect(nearest([], 1)).toBe(-1);
  });

  it("labels a log axis with round ticks only", () => {
    expect(logTicks(0.05, 0.9)).toEqual([0.05, 0.1, 0.2, 0.5]);
    expect(logTicks(0.02, 2)).toEqual([0.02, 0.05, 0.1, 0.2, 0.5, 1, 2]);
    expect(logTicks(0.004, 2)).toEqual([0.01, 0.1, 1]); // many decades: the powers alone
    expect(logTicks(1e-6, 10)).toEqual([1e-6, 1e-5, 1e-4, 0.001, 0.01, 0.1, 1, 10]);
    expect(logTicks(0, 1)).toBe(null);
    expect(logTicks(3, 4)).toBe(null); // no round tick inside: bqplot's own
  });
});
