// The run page draws a view-model snapshot and its deltas, and keeps the reader's place.
import { describe, expect, it, vi } from "vitest";
import { createRunPage } from "../page.js";
import { applyDelta } from "../state.js";

const XSS = "<img src=x onerror=alert(1)>";

function snapshot() {
  return {
    version: 1,
    time: 1000,
    header: { run_id: "r1", display_name: XSS, experiment: "e", type: "script", number: 1, parent_id: null, status: "Running", status_kind: "running", created: 900, started: 900, ended: null, portal_url: "http://127.0.0.1:8777/runwidget/runs/r1" },
    properties: [{ group: "metric", name: "alpha", value: 0.1 }],
    error: null,
    notices: [],
    charts: [{ id: "m:loss", name: "loss", title: "loss", kind: "line", x_label: "step", y_label: "loss", series: [{ id: "value", label: "loss", count: 2, skipped: 0, x: [0, 1], y: [1, 0.5] }] }],
    images: [],
    children: {
      columns: [{ key: "acc", label: "acc" }],
      rows: Array.from({ length: 12 }, (_, i) => ({ id: `c${i}`, number: i + 2, name: `child ${i}`, type: "child", status: "Completed", created: 900, started: 900, ended: 910 + i, metrics: { acc: i / 10 } })),
    },
    iterations: null,
    log: { lines: [{ seq: 1, stream: "stdout", text: "hello", time: 950 }], total: 1, limit: 100 },
    terminal: false,
  };
}

describe("run page", () => {
  it("draws every part of a snapshot, user strings as text", () => {
    const mount = vi.fn(() => true);
    const page = createRunPage({ chartHost: { mount }, now: () => 1000 });
    const state = snapshot();
    page.update(state);
    const el = page.el;
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector(".rw-title").textContent).toBe(XSS);
    expect(el.querySelector(".rw-properties").textContent).toContain("alpha");
    expect(mount).toHaveBeenCalledWith("m:loss", expect.any(HTMLElement), expect.objectContaining({ id: "m:loss" }));
    expect(el.querySelectorAll(".rw-children tbody tr").length).toBe(10);
    expect(el.querySelector(".rw-log-lines").textContent).toContain("hello");
    page.destroy();
  });

  it("applies a delta: only new log lines, the error banner, the status", () => {
    const page = createRunPage({ now: () => 1000 });
    const state = snapshot();
    page.update(state);
    const first = page.el.querySelector(".rw-line");
    const delta = {
      version: 2,
      base: 1,
      time: 1010,
      header: { ...state.header, status: "Failed", status_kind: "failed", ended: 1005 },
      error: { message: XSS, traceback: "Traceback" },
      log: { append: [{ seq: 2, stream: "stderr", text: "boom", time: 1001 }], total: 2 },
    };
    applyDelta(state, delta);
    page.update(state, { kind: "delta", delta });
    expect(page.el.querySelector(".rw-line")).toBe(first); // kept, not redrawn
    expect(page.el.querySelectorAll(".rw-line").length).toBe(2);
    expect(page.el.querySelector(".rw-stderr").textContent).toContain("boom");
    expect(page.el.querySelector(".rw-error-message").textContent).toBe(XSS);
    expect(page.el.querySelector(".rw-header .rw-status").textContent).toBe("Failed");
    expect(page.el.querySelector("img")).toBeNull();
    page.destroy();
  });

  it("keeps sort and page through a re-render, and opens children", () => {
    const onOpenChild = vi.fn();
    const saved = {};
    const a = createRunPage({ onOpenChild, onUiChange: (ui) => Object.assign(saved, ui), now: () => 1000 });
    a.update(snapshot());
    const header = [...a.el.querySelectorAll(".rw-children th")].find((th) => th.textContent.startsWith("acc"));
    header.click();
    header.click(); // acc, descending
    a.el.querySelector(".rw-children .rw-page-next").click();
    expect(saved.children).toEqual({ sort: { key: "metric:acc", dir: -1 }, page: 1 });
    const b = createRunPage({ onOpenChild, now: () => 1000 });
    b.update(snapshot());
    b.restoreUi(saved);
    const names = [...b.el.querySelectorAll(".rw-children tbody tr")].map((tr) => tr.children[1].textContent);
    expect(names).toEqual(["child 1", "child 0"]);
    b.el.querySelector(".rw-children tbody tr").click();
    expect(onOpenChild).toHaveBeenCalledWith(expect.objectContaining({ id: "c1" }));
    a.destroy();
    b.destroy();
  });

  it("shows iterations instead of the plain child table for AutoML", () => {
    const state = snapshot();
    state.iterations = { kind: "automl", primary_metric: "acc", goal: "maximize", metrics: ["acc"], params: [], best: { id: "c11", iteration: 11, value: 1.1 } };
    state.children.rows = state.children.rows.map((r, i) => ({ ...r, iteration: i, pipeline: "A + B", params: {}, metric: r.metrics.acc, best: r.metrics.acc }));
    const page = createRunPage({ now: () => 1000 });
    page.update(state);
    expect(page.el.querySelectorAll(".rw-strip-cell").length).toBe(12);
    expect(page.el.querySelector(".rw-children").closest("section").hidden).toBe(true);
    expect(page.el.querySelector(".rw-best").textContent).toContain("Best acc (maximize): 1.1 at iteration 11");
    page.destroy();
  });
});
