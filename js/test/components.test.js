// Unit tests of the DOM components, escaping included.
import { describe, expect, it, vi } from "vitest";
import { h, safeUrl } from "../components/dom.js";
import { formatDuration, formatValue, compareValues } from "../components/format.js";
import { createHeader } from "../components/header.js";
import { createProperties } from "../components/properties.js";
import { createErrorBanner, createNotices } from "../components/notices.js";
import { createTable } from "../components/table.js";
import { createChildrenTable } from "../components/children.js";
import { createHeatStrip, createIterationsTable, sentIterationSeries } from "../components/iterations.js";
import { createParallelCoordinates } from "../components/parcoords.js";
import { createLogView } from "../components/logview.js";
import { createGallery, safeImageSrc } from "../components/gallery.js";

const XSS = "<img src=x onerror=alert(1)>";

function header(extra = {}) {
  return {
    run_id: "exp_1_abc",
    display_name: XSS,
    experiment: "exp",
    type: "interactive",
    number: 1,
    parent_id: null,
    status: "Running",
    status_kind: "running",
    created: 1000,
    started: 1000,
    ended: null,
    portal_url: "http://127.0.0.1:8777/runwidget/runs/exp_1_abc",
    ...extra,
  };
}

describe("dom", () => {
  it("puts strings in as text", () => {
    const el = h("div", { title: XSS }, XSS, h("span", { text: XSS }));
    expect(el.querySelector("img")).toBeNull();
    expect(el.textContent).toBe(XSS + XSS);
  });
  it("follows only http(s) links", () => {
    expect(safeUrl("javascript:alert(1)")).toBeNull();
    expect(safeUrl("https://example.org/x")).toBe("https://example.org/x");
  });
});

describe("format", () => {
  it("formats durations and values", () => {
    expect(formatDuration(4.2)).toBe("4.2s");
    expect(formatDuration(125)).toBe("2m 05s");
    expect(formatDuration(3723)).toBe("1h 02m 03s");
    expect(formatDuration(null)).toBe("");
    expect(formatValue(0.123456789)).toBe("0.123457");
    expect(formatValue(12)).toBe("12");
    expect(formatValue(1e-7)).toBe("1.0000e-7");
    expect(formatValue("NaN")).toBe("NaN");
  });
  it("sorts numbers before text and empty values last", () => {
    expect([3, "b", null, 1, "a"].sort(compareValues)).toEqual([1, 3, "a", "b", null]);
  });
});

describe("header", () => {
  it("shows the name as text, the status colour and a ticking duration", () => {
    vi.useFakeTimers();
    let clock = 1010;
    const hd = createHeader({ now: () => clock });
    hd.update(header(), { time: 1010 });
    document.body.appendChild(hd.el);
    expect(hd.el.querySelector("img")).toBeNull();
    expect(hd.el.querySelector(".rw-title").textContent).toBe(XSS);
    expect(hd.el.querySelector(".rw-status").className).toContain("rw-status-running");
    expect(hd.el.querySelector(".rw-duration").textContent).toBe("10.0s");
    clock = 1075;
    vi.advanceTimersByTime(1000);
    expect(hd.el.querySelector(".rw-duration").textContent).toBe("1m 15s");
    expect(hd.el.querySelector(".rw-portal").getAttribute("href")).toContain("/runs/exp_1_abc");
    hd.update(header({ status: "Completed", status_kind: "completed", ended: 1100 }), { time: 1200 });
    expect(hd.el.querySelector(".rw-status").className).toContain("rw-status-completed");
    expect(hd.el.querySelector(".rw-duration").textContent).toBe("1m 40s");
    hd.destroy();
    vi.useRealTimers();
  });
  it("refuses a javascript: portal link and offers the way back", () => {
    const onBack = vi.fn();
    const hd = createHeader({ onBack });
    hd.update(header({ portal_url: "javascript:alert(1)" }), { trail: [{ run_id: "p", name: XSS }] });
    expect(hd.el.querySelector(".rw-portal").hidden).toBe(true);
    const crumb = hd.el.querySelector(".rw-crumb");
    expect(crumb.textContent).toBe(XSS);
    crumb.click();
    expect(onBack).toHaveBeenCalledWith(0);
    hd.destroy();
  });
  it("says in the link's tooltip how to start a portal when none serves the store", () => {
    const hd = createHeader();
    const note = "No portal serves this run's store yet: start one with `runwidget portal`";
    hd.update(header({ portal_note: note }));
    const link = hd.el.querySelector(".rw-portal");
    expect(link.hidden).toBe(false);
    expect(link.title).toBe(note);
    expect(link.classList.contains("rw-portal-unserved")).toBe(true);
    hd.update(header()); // a portal serves it now: a plain link again
    expect(link.title).toBe("");
    expect(link.classList.contains("rw-portal-unserved")).toBe(false);
    hd.destroy();
  });
});

describe("properties, notices, error banner", () => {
  it("draws every value as text", () => {
    const p = createProperties();
    p.update([
      { group: "tag", name: XSS, value: XSS },
      { group: "metric", name: "alpha", value: 0.1 },
    ]);
    expect(p.el.querySelector("img")).toBeNull();
    expect(p.el.textContent).toContain(XSS);
    expect(p.el.textContent).toContain("0.1");
    const n = createNotices();
    n.update([{ key: "unreachable", level: "warning", text: XSS }]);
    expect(n.el.querySelector(".rw-notice-warning").textContent).toBe(XSS);
    const e = createErrorBanner();
    e.update({ message: XSS, traceback: "Traceback\n  line" });
    expect(e.el.hidden).toBe(false);
    expect(e.el.querySelector(".rw-error-message").textContent).toBe(XSS);
    expect(e.el.querySelector("img")).toBeNull();
    e.update(null);
    expect(e.el.hidden).toBe(true);
  });
});

describe("table", () => {
  const rows = Array.from({ length: 25 }, (_, i) => ({ id: `r${i}`, n: i, name: `run ${24 - i}` }));
  it("sorts and pages in the browser, keeping both across updates", () => {
    const t = createTable({ columns: [{ key: "n", label: "N", numeric: true }, { key: "name", label: "Name" }], pageSize: 10 });
    t.update(rows);
    const cells = () => [...t.el.querySelectorAll("tbody tr")].map((tr) => tr.firstChild.textContent);
    expect(cells()[0]).toBe("0");
    t.el.querySelector("th").click(); // sort by N ascending
    t.el.querySelector("th").click(); // then descending
    expect(cells()[0]).toBe("24");
    t.el.querySelector(".rw-page-next").click();
    expect(cells()[0]).toBe("14");
    expect(t.el.querySelector(".rw-page-info").textContent).toBe("2 / 3 · 25 rows");
    t.update([...rows, { id: "r25", n: 25, name: "new" }]);
    expect(t.page).toBe(1);
    expect(cells()[0]).toBe("15");
  });
  it("opens a child on click", () => {
    const onOpen = vi.fn();
    const c = createChildrenTable({ onOpen, now: () => 2000 });
    c.update({
      columns: [{ key: "acc", label: "acc" }],
      rows: [{ id: "c1", number: 2, name: XSS, type: "child", status: "Running", status_kind: "running", created: 1000, started: 1000, ended: null, metrics: { acc: 0.5 } }],
    });
    expect(c.el.querySelector("img")).toBeNull();
    expect(c.el.textContent).toContain(XSS);
    expect(c.el.textContent).toContain("16m 40s");
    c.el.querySelector("tbody tr").click();
    expect(onOpen).toHaveBeenCalledWith(expect.objectContaining({ id: "c1" }));
  });
});

const meta = { kind: "automl", primary_metric: "AUC", goal: "maximize", metrics: ["AUC"], params: [], best: null };
const iterRows = [
  { id: "a", number: 2, iteration: 0, status: "Completed", status_kind: "completed", metric: 0.7, best: 0.7, metrics: { AUC: 0.7 }, pipeline: XSS, params: {}, started: 1, ended: 2 },
  { id: "b", number: 3, iteration: 1, status: "Failed", status_kind: "failed", metric: null, best: 0.7, metrics: {}, pipeline: "SVM", params: {}, started: 1, ended: 2 },
  { id: "c", number: 4, iteration: 2, status: "Completed", status_kind: "completed", metric: 0.9, best: 0.9, metrics: { AUC: 0.9 }, pipeline: "LGBM", params: {}, started: 1, ended: 2 },
  { id: "d", number: 5, iteration: 3, status: "Running", status_kind: "running", metric: null, best: 0.9, metrics: {}, pipeline: "RF", params: {}, started: 1, ended: null },
  { id: "e", number: 6, iteration: 4, status: "NotStarted", status_kind: "waiting", metric: null, best: 0.9, metrics: {}, pipeline: null, params: {}, started: null, ended: null },
];

describe("iterations", () => {
  it("draws the iteration series the view model sent, or nothing", () => {
    const series = { x: [0, 2], y: [0.7, 0.9], best_x: [0, 2], best_y: [0.7, 0.9] };
    expect(sentIterationSeries({ ...meta, series: { AUC: series } }, "AUC")).toBe(series);
    expect(sentIterationSeries(meta, "AUC")).toEqual({ x: [], y: [], best_x: [], best_y: [] });
  });
  it("draws one heat-strip cell per iteration coloured by status and score", () => {
    const s = createHeatStrip();
    s.update(iterRows, meta);
    const cells = [...s.el.querySelectorAll(".rw-strip-cell")];
    expect(cells.map((c) => c.dataset.status)).toEqual(["Completed", "Failed", "Completed", "Running", "NotStarted"]);
    const colours = cells.map((c) => c.style.background);
    expect(colours[1]).toMatch(/e53935|229, 57, 53/);
    expect(colours[3]).toMatch(/42a5f5|66, 165, 245/);
    expect(colours[4]).toMatch(/bdbdbd|189, 189, 189/);
    expect(colours[0]).not.toBe(colours[2]); // greener for the better score
    expect(cells[0].title).toContain(XSS);
  });
  it("sorts the iterations table by the goal, best first", () => {
    const t = createIterationsTable({ now: () => 10 });
    t.update(iterRows, meta);
    const first = () => t.el.querySelector("tbody tr td").textContent;
    expect(first()).toBe("2");
    t.update(iterRows, { ...meta, goal: "minimize" });
    expect(first()).toBe("0");
    expect(t.el.querySelector("img")).toBeNull();
  });
  it("draws parallel coordinates of a sweep", () => {
    const p = createParallelCoordinates();
    const rows = [
      { iteration: 0, metric: 0.6, params: { lr: 0.1, booster: XSS } },
      { iteration: 1, metric: 0.8, params: { lr: 0.2, booster: "dart" } },
    ];
    p.update(rows, { kind: "sweep", primary_metric: "AUC", goal: "maximize", params: ["lr", "booster"] });
    expect(p.el.querySelectorAll("polyline").length).toBe(2);
    expect(p.el.querySelectorAll(".rw-pc-axis").length).toBe(3);
    expect(p.el.querySelector("img")).toBeNull();
    expect(p.el.textContent).toContain(XSS);
  });
});

describe("log view", () => {
  const line = (seq, text, stream = "stdout") => ({ seq, stream, text, time: 1000 + seq });
  it("tells stdout from stderr, draws text, and bounds the kept lines", () => {
    const onFullLog = vi.fn();
    const log = createLogView({ maxLines: 5, onFullLog });
    log.setLines([line(1, XSS), line(2, "oops", "stderr")], 2);
    expect(log.el.querySelector("img")).toBeNull();
    expect(log.el.querySelector(".rw-stdout .rw-line-text").textContent).toBe(XSS);
    expect(log.el.querySelector(".rw-stderr .rw-line-text").textContent).toBe("oops");
    log.append([3, 4, 5, 6, 7].map((i) => line(i, `l${i}`)), 7);
    expect(log.box.childElementCount).toBe(5);
    expect(log.box.firstElementChild.dataset.seq).toBe("3");
    expect(log.el.querySelector(".rw-log-earlier").textContent).toBe("2 earlier lines not shown here.");
    log.el.querySelector(".rw-full-log").click();
    expect(onFullLog).toHaveBeenCalled();
  });
  it("never pulls the reader down while they read above", () => {
    const log = createLogView({ maxLines: 100 });
    const box = log.box;
    let top = 0;
    // happy-dom does no layout: give the box a size.
    Object.defineProperty(box, "clientHeight", { configurable: true, get: () => 100 });
    Object.defineProperty(box, "scrollHeight", { configurable: true, get: () => box.childElementCount * 20 });
    Object.defineProperty(box, "scrollTop", { configurable: true, get: () => top, set: (v) => {
        top = Math.max(0, Math.min(v, box.childElementCount * 20 - 100));
      } });
    log.setLines(Array.from({ length: 20 }, (_, i) => line(i, `l${i}`)), 20);
    expect(top).toBe(300); // following: at the bottom
    top = 40; // the reader scrolls up
    box.dispatchEvent(new Event("scroll"));
    expect(log.following).toBe(false);
    log.append([line(20, "new")], 21);
    expect(top).toBe(40); // not pulled down
    top = 320; // back at the bottom: following again
    box.dispatchEvent(new Event("scroll"));
    expect(log.following).toBe(true);
    log.append([line(21, "newer")], 22);
    expect(top).toBe(340);
  });
});

describe("gallery", () => {
  it("shows only inline images", () => {
    expect(safeImageSrc("javascript:alert(1)")).toBeNull();
    expect(safeImageSrc("data:text/html;base64,AAAA")).toBeNull();
    const g = createGallery();
    g.update([
      { id: 1, name: XSS, step: 0, path: "images/a.png", content_type: "image/png", size: 4, src: "data:image/png;base64,AAAA" },
      { id: 2, name: XSS, step: 1, path: "images/b.png", content_type: "image/png", size: 4, src: "javascript:alert(1)" },
    ]);
    const imgs = g.el.querySelectorAll("img");
    expect(imgs.length).toBe(1);
    expect(imgs[0].getAttribute("src")).toBe("data:image/png;base64,AAAA");
    expect(g.el.querySelector("figcaption").textContent).toBe(`${XSS} (2)`);
  });
});

describe("log view and full views", () => {
  it("leaves the reader in place when a full view brings the same lines", () => {
    const log = createLogView({ maxLines: 100 });
    const lines = Array.from({ length: 30 }, (_, i) => ({ seq: i, stream: "stdout", text: `l${i}`, time: 1 }));
    log.setLines(lines, 30);
    const before = log.box.firstElementChild;
    log.following = false;
    log.setLines(lines, 30);
    expect(log.box.firstElementChild).toBe(before); // not redrawn
    log.setLines(lines.slice(5), 30);
    expect(log.box.firstElementChild.dataset.seq).toBe("5");
  });
});
