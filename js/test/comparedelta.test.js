// Runs side by side in the notebook: what the kernel sends after the first comparison (a
// live run's new points, stats, status; long lines as binary buffers) merged into it, and a
// missed delta answered by asking for the whole comparison again.
import { describe, expect, it } from "vitest";
import { applyCompareDelta } from "../components/compare.js";
import { createCompareStore, unpackLines } from "../compare.js";

function line(run, x, y) {
  return { run, id: "value", label: run, colour: "#000", dash: false, x, y };
}

function comparison() {
  return {
    version: 3,
    runs: [
      { id: "a", name: "a", status: "Completed", status_kind: "ok" },
      { id: "b", name: "b", status: "Running", status_kind: "running" },
    ],
    charts: [
      { name: "acc", x_label: "step", controls: {}, series: [line("a", [0], [0.5]), line("b", [0], [0.4])], stats: [{ run: "a" }, { run: "b" }] },
      { name: "loss", x_label: "step", controls: {}, series: [line("a", [0, 1], [1, 0.5]), line("b", [0, 1], [2, 1])], stats: [{ run: "a", last: 0.5 }, { run: "b", last: 1 }] },
    ],
    table: [{ group: "tag", name: "t", values: ["x", "y"], differs: true }],
    terminal: false,
  };
}

describe("applyCompareDelta", () => {
  it("appends a live run's new points and replaces its stats row, the rest kept as it is", () => {
    const before = comparison();
    const after = applyCompareDelta(before, {
      version: 4,
      base: 3,
      series: [{ chart: "loss", index: 1, start: 1, x: [1, 2], y: [0.9, 0.7] }],
      stats: [{ chart: "loss", index: 1, row: { run: "b", last: 0.7 } }],
      runs: [{ id: "b", name: "b", status: "Completed", status_kind: "ok" }],
      terminal: true,
    });
    expect(after.version).toBe(4);
    const loss = after.charts[1];
    expect(loss.series[1].x).toEqual([0, 1, 2]);
    expect(loss.series[1].y).toEqual([2, 0.9, 0.7]);
    expect(loss.stats).toEqual([{ run: "a", last: 0.5 }, { run: "b", last: 0.7 }]);
    expect(loss.series[0]).toBe(before.charts[1].series[0]); // run a's line untouched
    expect(after.charts[0]).toBe(before.charts[0]); // a chart without news: the same object
    expect(after.runs.map((r) => r.status)).toEqual(["Completed", "Completed"]);
    expect(after.table).toBe(before.table);
    expect(after.terminal).toBe(true);
    // The comparison given is left as it was (the widget's state, for another view).
    expect(before.charts[1].series[1].x).toEqual([0, 1]);
    expect(before.version).toBe(3);
  });

  it("takes a line again from the start, a new chart, the order and the table", () => {
    const spec = { name: "lr", x_label: "step", controls: {}, series: [{ run: "b", id: "value", label: "b" }], stats: [{ run: "b" }] };
    const after = applyCompareDelta(comparison(), {
      version: 4,
      base: 3,
      charts: [spec],
      series: [
        { chart: "acc", index: 0, start: 0, x: [0, 4], y: [0.1, 0.2] },
        { chart: "lr", index: 0, start: 0, x: [0], y: [0.1] },
      ],
      order: ["acc", "loss", "lr"],
      table: [],
    });
    expect(after.charts.map((c) => c.name)).toEqual(["acc", "loss", "lr"]);
    expect(after.charts[0].series[0].x).toEqual([0, 4]);
    expect(after.charts[2].series[0]).toEqual({ run: "b", id: "value", label: "b", x: [0], y: [0.1] });
    expect(after.charts[2].stats).toEqual([{ run: "b" }]);
    expect(after.table).toEqual([]);
  });

  it("keeps the points of a chart's lines when its lines change, a new line empty", () => {
    const before = comparison();
    const meta = ({ x, y, ...rest }) => rest; // eslint-disable-line no-unused-vars
    const spec = { ...before.charts[0], series: [...before.charts[0].series.map(meta), { run: "c", id: "value", label: "c" }], stats: [{ run: "a" }, { run: "b" }, { run: "c" }] };
    const after = applyCompareDelta(before, {
      version: 4,
      base: 3,
      charts: [spec],
      series: [{ chart: "acc", index: 2, start: 0, x: [0, 1], y: [0.2, 0.3] }],
    });
    const acc = after.charts[0];
    expect(acc.series.map((s) => s.x)).toEqual([[0], [0], [0, 1]]);
    expect(acc.series[1].y).toEqual([0.4]);
    expect(acc.stats).toHaveLength(3);
    expect(after.charts[1]).toBe(before.charts[1]);
  });

  it("refuses a delta of another version", () => {
    expect(() => applyCompareDelta(comparison(), { version: 6, base: 5 })).toThrow("version 5");
  });
});

describe("unpackLines", () => {
  it("reads long lines from their float64 buffers", () => {
    const x = new Float64Array([0, 1, 2]);
    const y = new Float64Array([3, 4, 5]);
    const delta = unpackLines(
      {
        series: [{ chart: "loss", index: 0, start: 0, x: { buffer: 0 }, y: { buffer: 1 } }],
        stats: [{ chart: "loss", index: 0, row: { run: "a" } }],
      },
      [new DataView(x.buffer), new DataView(y.buffer)],
    );
    expect(Array.from(delta.series[0].x)).toEqual([0, 1, 2]);
    expect(Array.from(delta.series[0].y)).toEqual([3, 4, 5]);
    expect(delta.stats).toEqual([{ chart: "loss", index: 0, row: { run: "a" } }]);
  });
});

describe("createCompareStore", () => {
  function model(state) {
    const m = { sent: [], state };
    m.get = (key) => (key === "_compare" ? m.state : undefined);
    m.set = (key, value) => {
      m.state = value;
      m.onChange?.();
    };
    m.send = (msg) => m.sent.push(msg);
    return m;
  }

  it("merges deltas in order, ignores old ones and asks again for the whole after a gap", () => {
    const m = model(comparison());
    const store = createCompareStore(m);
    const drawn = [];
    store.subscribe((c) => drawn.push(c.version));
    const tail = { chart: "loss", index: 1, start: 2, x: [2], y: [0.8] };
    store.onMessage({ type: "delta", delta: { version: 4, base: 3, series: [tail] } }, []);
    store.onMessage({ type: "delta", delta: { version: 4, base: 3, series: [tail] } }, []); // again
    expect(store.compare.charts[1].series[1].x).toEqual([0, 1, 2]);
    expect(drawn).toEqual([4]);
    expect(m.state).toBe(store.compare); // the state a saved notebook keeps
    m.onChange = () => store.onState(); // change:_compare of our own set: not drawn again
    store.onMessage({ type: "delta", delta: { version: 5, base: 4, terminal: true } }, []);
    expect(drawn).toEqual([4, 5]);
    store.onMessage({ type: "delta", delta: { version: 7, base: 6 } }, []); // 6 missed
    store.onMessage({ type: "delta", delta: { version: 8, base: 7 } }, []);
    expect(m.sent).toEqual([{ type: "resync" }]); // once
    expect(store.compare.version).toBe(5);
    store.onMessage({ type: "metric_csv", request: 1 }, []); // a chart's answer: not ours
    expect(drawn).toEqual([4, 5]);
  });

  it("takes the whole comparison again from the state", () => {
    const m = model(comparison());
    const store = createCompareStore(m);
    store.resyncing = true;
    m.state = { ...comparison(), version: 8 };
    store.onState();
    expect(store.compare.version).toBe(8);
    expect(store.resyncing).toBe(false);
  });
});
