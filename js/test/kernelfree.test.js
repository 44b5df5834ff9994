// Unit tests of the kernel-free front end: chart data alignment, the Runs sidebar's virtual
// list, and the RunDetails cell code.
import { describe, expect, it, vi } from "vitest";
import { alignSeries } from "../portal/chart.js";
import { createRunsSidebar, ROW_HEIGHT } from "../lab/sidebar.js";
import { runDetailsCode } from "../lab/code.js";

const XSS = '<img src=x onerror="alert(1)">';

describe("alignSeries", () => {
  it("sorts one series by x", () => {
    expect(alignSeries([{ x: [2, 0, 1], y: [20, 0, 10] }])).toEqual([
      [0, 1, 2],
      [0, 10, 20],
    ]);
  });
  it("merges the x values of several series, with gaps as null", () => {
    expect(alignSeries([{ x: [0, 2], y: [1, 3] }, { x: [1, 2], y: [5, 6] }])).toEqual([
      [0, 1, 2],
      [1, null, 3],
      [null, 5, 6],
    ]);
  });
});

describe("runDetailsCode", () => {
  it("quotes the run id as a Python string", () => {
    const code = runDetailsCode({ id: 'a"b\\c' });
    expect(code).toContain('RunDetails(Workspace().get_run("a\\"b\\\\c")).show()');
  });
});

function fakeApi(total) {
  const runs = Array.from({ length: total }, (_, i) => ({
    id: `run-${i}`,
    name: i === 0 ? XSS : `run ${i}`,
    experiment: "e",
    status: i === 1 ? "Running" : "Completed",
    started: 100,
    ended: i === 1 ? null : 110,
    children: 0,
    seq: i + 1,
    primary_metric: { name: "loss", value: 0.123456 },
  }));
  return {
    calls: [],
    async runs(params) {
      this.calls.push(params);
      const offset = params.offset || 0;
      return { runs: runs.slice(offset, offset + params.limit), total, offset, cursor: total, time: 200 };
    },
    async experiments() {
      return { experiments: [{ name: "e" }] };
    },
  };
}

describe("createRunsSidebar", () => {
  it("draws only the rows in view, and user strings as text", async () => {
    const api = fakeApi(10000);
    const sidebar = createRunsSidebar({ api, isVisible: () => true, actions: {} });
    document.body.appendChild(sidebar.el);
    const list = sidebar.el.querySelector(".rw-sb-list");
    Object.defineProperty(list, "clientHeight", { value: 500, configurable: true });
    sidebar.start();
    await vi.waitFor(() => expect(sidebar.el.querySelectorAll(".rw-sb-row").length).toBeGreaterThan(0));
    const rows = sidebar.el.querySelectorAll(".rw-sb-row");
    expect(rows.length).toBeLessThan(30);
    expect(sidebar.el.querySelector(".rw-sb-spacer").style.height).toBe(`${10000 * ROW_HEIGHT}px`);
    expect(sidebar.el.querySelector(".rw-sb-count").textContent).toBe("10000 runs");
    const first = sidebar.el.querySelector('[data-run-id="run-0"] .rw-sb-name');
    expect(first.textContent).toBe(XSS);
    expect(sidebar.el.querySelector("img")).toBeNull();
    expect(sidebar.el.querySelector('[data-run-id="run-0"] .rw-sb-metric').textContent).toBe("loss 0.1235");
    expect(api.calls[0]).toMatchObject({ parent: "none", stats: "primary", offset: 0, limit: 100 });
    sidebar.destroy();
  });
});
