// The browser's delta rules match runwidget/view/delta.py.
import { describe, expect, it } from "vitest";
import { applyDelta, spliceSeries } from "../state.js";

function snapshot() {
  return {
    version: 3,
    time: 10,
    header: { run_id: "r", status: "Running" },
    properties: [],
    error: null,
    notices: [],
    charts: [{ id: "m:loss", name: "loss", title: "loss", kind: "line", x_label: "index", y_label: "loss", series: [{ id: "value", label: "loss", count: 3, skipped: 0, x: [0, 1, 2], y: [3, 2, 1] }] }],
    images: [{ id: 1, name: "a" }],
    children: { columns: [], rows: [{ id: "c1", status: "Running" }] },
    iterations: null,
    log: { lines: [{ seq: 1, text: "a" }, { seq: 2, text: "b" }], total: 2, limit: 3 },
    terminal: false,
  };
}

const delta = {
  version: 4,
  base: 3,
  time: 20,
  header: { run_id: "r", status: "Completed" },
  charts: {
    specs: [{ id: "m:acc", name: "acc", title: "acc", kind: "line", x_label: "step", y_label: "acc", series: [{ id: "value", label: "acc" }] }],
    data: [
      { chart: "m:loss", series: "value", start: 2, x: [2, 3], y: [0.5, 0.25], count: 4, skipped: 1 },
      { chart: "m:acc", series: "value", start: 0, x: [0], y: [0.9], count: 1, skipped: 0 },
    ],
  },
  images: { add: [{ id: 2, name: "b" }], remove: [1] },
  children: { columns: [{ key: "acc", label: "acc" }], upsert: [{ id: "c1", status: "Completed" }, { id: "c2", status: "Running" }] },
  log: { append: [{ seq: 3, text: "c" }, { seq: 4, text: "d" }], total: 4 },
  terminal: true,
};

describe("applyDelta", () => {
  it("applies every part", () => {
    const s = applyDelta(snapshot(), delta);
    expect(s.version).toBe(4);
    expect(s.header.status).toBe("Completed");
    expect(s.terminal).toBe(true);
    expect(s.charts[0].series[0]).toMatchObject({ x: [0, 1, 2, 3], y: [3, 2, 0.5, 0.25], count: 4, skipped: 1 });
    expect(s.charts[1].series[0]).toMatchObject({ x: [0], y: [0.9], count: 1 });
    expect(s.images.map((i) => i.id)).toEqual([2]);
    expect(s.children.rows).toEqual([{ id: "c1", status: "Completed" }, { id: "c2", status: "Running" }]);
    expect(s.children.columns).toEqual([{ key: "acc", label: "acc" }]);
    expect(s.log.lines.map((l) => l.text)).toEqual(["b", "c", "d"]);
    expect(s.log.total).toBe(4);
  });
  it("routes series to a sink when one is given", () => {
    const tails = [];
    const s = applyDelta(snapshot(), delta, { onSeries: (t) => tails.push(t) });
    expect(tails.length).toBe(2);
    expect(s.charts[0].series[0].x).toEqual([0, 1, 2]);
    expect(s.charts[0].series[0].count).toBe(4);
  });
  it("refuses a delta for another version", () => {
    expect(() => applyDelta(snapshot(), { ...delta, base: 7 })).toThrow(/cannot apply to version 3/);
  });
  it("splices typed arrays", () => {
    expect(Array.from(spliceSeries(Float64Array.from([1, 2, 3]), 2, [9, 8]))).toEqual([1, 2, 9, 8]);
    expect(Array.from(spliceSeries([], 0, [1]))).toEqual([1]);
  });
});

describe("binary series", () => {
  it("reads {buffer: i} tails from the message's buffers", async () => {
    const { unpackSeries } = await import("../widget.js");
    const x = new Float64Array([1, 2, 3]);
    const y = new Float64Array([4, 5, 6]);
    const delta = { charts: { specs: [], data: [{ chart: "m:a", series: "value", start: 0, x: { buffer: 0 }, y: { buffer: 1 }, count: 3, skipped: 0 }] } };
    unpackSeries(delta, [new DataView(x.buffer), new DataView(y.buffer)]);
    expect(Array.from(delta.charts.data[0].x)).toEqual([1, 2, 3]);
    expect(Array.from(delta.charts.data[0].y)).toEqual([4, 5, 6]);
  });
  it("takes a snapshot's series points out of the state, for the chart lines", async () => {
    const { splitSeries } = await import("../widget.js");
    const x = new Float64Array([0, 1, 2, 3]);
    const y = new Float64Array([9, 8, 7, 6]);
    // The widget protocol hands binary state over as DataViews, here on part of a buffer.
    const series = { id: "value", label: "loss", count: 2, skipped: 0, x: new DataView(x.buffer, 16), y: new DataView(y.buffer, 16) };
    const snap = { version: 4, charts: [{ id: "m:loss", series: [series] }], log: { lines: [] } };
    const { state, tails } = splitSeries(snap);
    expect(state.charts[0].series[0]).toEqual({ id: "value", label: "loss", count: 2, skipped: 0 });
    expect(state.version).toBe(4);
    expect(tails.map((t) => [t.chart, t.series, t.start, Array.from(t.x), Array.from(t.y)])).toEqual([["m:loss", "value", 0, [2, 3], [7, 6]]]);
    expect(snap.charts[0].series[0].x).toBeInstanceOf(DataView); // the model's value is untouched
    expect(splitSeries({})).toEqual({ state: {}, tails: [] });
  });
});
