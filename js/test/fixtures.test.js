// The golden files of tests/fixtures/view/, written by the Python view model
// (tests/test_view_fixtures.py): the browser applies each delta to the same result, and the
// run page draws what is sent (status kinds, best so far, iteration series, colours).
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { applyDelta } from "../state.js";
import { createRunPage } from "../page.js";
import { iterationsCsv, sentIterationSeries } from "../components/iterations.js";
import { formatValue } from "../components/format.js";
import { PALETTE } from "../components/palette.js";

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../tests/fixtures/view");
const FIXTURES = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => [f.replace(/\.json$/, ""), JSON.parse(readFileSync(path.join(DIR, f), "utf8"))]);
const fixture = (name) => structuredClone(FIXTURES.find(([n]) => n === name)[1]);

function drawn(name) {
  const { before, delta } = fixture(name);
  const mount = vi.fn(() => true);
  const page = createRunPage({ chartHost: { mount }, now: () => before.time });
  page.update(before);
  const state = applyDelta(before, delta);
  page.update(state, { kind: "delta", delta });
  return { page, state, mount };
}

function column(table, label) {
  const heads = [...table.querySelectorAll("th")].map((th) => th.textContent);
  const i = heads.findIndex((t) => t.startsWith(label));
  return [...table.querySelectorAll("tbody tr")].map((tr) => tr.children[i]);
}

describe("golden view fixtures", () => {
  it("there are some", () => {
    expect(FIXTURES.map(([n]) => n)).toEqual(expect.arrayContaining(["automl", "failed_run", "script_run", "sweep_minimize"]));
  });

  for (const [name] of FIXTURES) {
    it(`${name}: applyDelta(before, delta) is after`, () => {
      const { before, delta, after } = fixture(name);
      expect(applyDelta(before, delta)).toEqual(after);
    });

    it(`${name}: series go to the host and the state keeps their counts`, () => {
      const { before, delta, after } = fixture(name);
      const tails = [];
      const state = applyDelta(before, delta, { onSeries: (tail) => tails.push(tail) });
      expect(tails).toEqual(delta.charts?.data ?? []);
      for (const chart of after.charts) {
        const kept = state.charts.find((c) => c.id === chart.id);
        expect(kept.series.map((s) => [s.id, s.label, s.colour, s.count])).toEqual(chart.series.map((s) => [s.id, s.label, s.colour, s.count]));
      }
    });

    it(`${name}: the header and every badge take the status kind that was sent`, () => {
      const { page, state } = drawn(name);
      const status = page.el.querySelector(".rw-header .rw-status");
      expect(status.textContent).toBe(state.header.status);
      expect(status.classList.contains(`rw-status-${state.header.status_kind}`)).toBe(true);
      const badges = [...page.el.querySelectorAll(".rw-badge")];
      for (const badge of badges) {
        const row = state.children.rows.find((r) => r.status === badge.textContent);
        expect(badge.classList.contains(`rw-status-${row.status_kind}`)).toBe(true);
      }
      page.destroy();
    });
  }

  it("a status kind is drawn as sent, not worked out from the status", () => {
    const { before } = fixture("script_run");
    before.header.status_kind = "warning";
    const page = createRunPage({ now: () => before.time });
    page.update(before);
    expect(page.el.querySelector(".rw-header .rw-status").className).toContain("rw-status-warning");
    page.destroy();
  });

  it("automl: the best so far, the heat strip and the iteration charts are what was sent", () => {
    const { page, state, mount } = drawn("automl");
    const meta = state.iterations;
    const table = page.el.querySelector(".rw-iterations");
    const iterations = column(table, "Iteration").map((td) => Number(td.textContent));
    const best = column(table, "Best so far").map((td) => td.textContent);
    const byIteration = new Map(state.children.rows.map((r) => [r.iteration, r]));
    expect(best).toEqual(iterations.map((i) => formatValue(byIteration.get(i).best)));
    expect(page.el.querySelector(".rw-best").textContent).toContain(String(meta.best.value));
    const failed = page.el.querySelector('.rw-strip-cell[data-status="Failed"]');
    expect(failed.style.background).toMatch(/e53935|229, 57, 53/);
    for (const metric of meta.metrics) {
      expect(sentIterationSeries(meta, metric)).toBe(meta.series[metric]);
      expect(mount).toHaveBeenCalledWith(`it:${metric}`, expect.any(HTMLElement), expect.objectContaining({ colours: meta.colours }));
    }
    const legend = page.el.querySelector('[data-chart="it:AUC"] .rw-legend');
    const swatches = [...legend.querySelectorAll("span span")].map((s) => s.style.background);
    expect(swatches.join(" ")).toMatch(/2ca02c|44, 160, 44/);
    page.destroy();
  });

  it("sweep: the table sorts best first by the goal that was sent", () => {
    const { page, state } = drawn("sweep_minimize");
    expect(state.iterations.goal).toBe("minimize");
    const metrics = column(page.el.querySelector(".rw-iterations"), "AUC").map((td) => Number(td.textContent));
    expect(metrics).toEqual([...metrics].sort((a, b) => a - b));
    page.destroy();
  });

  it("an iteration chart gets the toolbar the view model offers, and its CSV is every trial", () => {
    const { before, delta } = fixture("sweep_minimize");
    const host = { mount: vi.fn(() => true), setControls: vi.fn(), csv: vi.fn(), png: vi.fn(), resetZoom: vi.fn() };
    const page = createRunPage({ chartHost: host, now: () => before.time });
    page.update(before);
    const state = applyDelta(before, delta);
    page.update(state, { kind: "delta", delta });
    const offered = state.iterations.controls.AUC;
    expect(offered).toEqual({ log_y: true, x_axes: ["data"], csv: true, smoothing: false });
    const slot = page.slots.get("it:AUC");
    expect(slot.el.querySelector(".rw-smooth-label").hidden).toBe(true);
    expect(slot.el.querySelector(".rw-log").hidden).toBe(false);
    [...slot.legend.querySelectorAll(".rw-legend-toggle")].find((el) => el.dataset.label === "best so far").click();
    expect(host.setControls).toHaveBeenLastCalledWith("it:AUC", expect.objectContaining({ smoothing: 0, hidden: ["best so far"] }));
    const rows = iterationsCsv(state.iterations, "AUC").trim().split("\n");
    const series = sentIterationSeries(state.iterations, "AUC");
    expect(rows[0]).toBe("iteration,AUC per iteration,best so far");
    expect(rows.length - 1).toBe(new Set([...series.x, ...series.best_x]).size);
    page.destroy();
    localStorage.clear();
  });

  it("chart series carry their colours from the one palette", () => {
    const { state } = drawn("script_run");
    for (const chart of state.charts) chart.series.forEach((s, i) => expect(s.colour).toBe(PALETTE[i % PALETTE.length]));
  });
});
