// Alerts: the banner, the list marks, and the JupyterLab notifications of new alerts.
// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import { alertMark, createAlertBanner, setAlertMark } from "../components/alerts.js";
import { followAlerts, notificationOf } from "../lab/alerts.js";
import { createRunPage } from "../page.js";

const XSS = "<img src=x onerror=alert(1)>";

describe("alert banner", () => {
  it("shows the newest first, as text", () => {
    const banner = createAlertBanner();
    expect(banner.el.hidden).toBe(true);
    banner.update([
      { title: "old", text: "", level: "info", kind: "user", time: 1 },
      { title: XSS, text: XSS, level: "error", kind: "failed", time: 2 },
    ]);
    expect(banner.el.hidden).toBe(false);
    const rows = banner.el.querySelectorAll(".rw-alert");
    expect(rows.length).toBe(2);
    expect(rows[0].dataset.kind).toBe("failed");
    expect(rows[0].className).toContain("rw-notice-error");
    expect(rows[0].querySelector(".rw-alert-title").textContent).toBe(XSS);
    expect(banner.el.querySelector("img")).toBeNull();
    expect(rows[1].className).toContain("rw-notice-info");
  });

  it("is drawn by the run page from the view's alerts, and system charts go to their section", () => {
    const page = createRunPage();
    const state = {
      version: 1, time: 10, terminal: false,
      header: { run_id: "r", display_name: "r", status: "Running", status_kind: "running", type: "interactive" },
      properties: [], error: null, notices: [], images: [], iterations: null,
      children: { rows: [], columns: [] }, log: { lines: [], total: 0, limit: 100 },
      charts: [
        { id: "m:loss", name: "loss", title: "loss", kind: "line", x_label: "step", y_label: "loss", series: [{ id: "value", label: "loss", count: 2 }] },
        { id: "m:system/cpu", name: "system/cpu", title: "cpu", kind: "line", x_label: "seconds since start", y_label: "", section: "system", series: [{ id: "value", label: "cpu", count: 2 }] },
      ],
      alerts: [{ title: "NaN!", text: "", level: "warn", kind: "nan", time: 5 }],
    };
    page.update(state);
    expect(page.el.querySelector(".rw-alerts").hidden).toBe(false);
    expect(page.el.querySelector(".rw-alert-title").textContent).toBe("NaN!");
    const system = page.el.querySelector(".rw-system");
    expect(system.hidden).toBe(false);
    expect(system.tagName).toBe("DETAILS");
    expect(system.querySelector('[data-chart="m:system/cpu"]')).not.toBeNull();
    expect(system.querySelector('[data-chart="m:loss"]')).toBeNull();

    // Folded away, it stays folded in the next view of the output (the notebook redraws it).
    let saved = null;
    const first = createRunPage({ onUiChange: (ui) => { saved = ui; } });
    first.update(state);
    const folded = first.el.querySelector(".rw-system");
    folded.open = false;
    folded.dispatchEvent(new Event("toggle"));
    expect(saved.systemOpen).toBe(false);
    const next = createRunPage();
    next.update(state);
    next.restoreUi(saved);
    expect(next.el.querySelector(".rw-system").open).toBe(false);
  });
});

describe("alert marks", () => {
  it("count the alerts and say the latest", () => {
    const mark = alertMark({ count: 2, level: "error", title: "Run x failed" });
    expect(mark.hidden).toBe(false);
    expect(mark.textContent).toContain("2");
    expect(mark.className).toContain("rw-alert-mark-error");
    expect(mark.title).toContain("Run x failed");
    setAlertMark(mark, undefined);
    expect(mark.hidden).toBe(true);
  });
});

describe("alert notifications", () => {
  it("notify only alerts newer than the first answer, each once", async () => {
    vi.useFakeTimers();
    const answers = [
      { alerts: [{ seq: 1, title: "before", level: "warn" }], cursor: 1 },
      { alerts: [{ seq: 2, run_id: "r1", name: "trainer", title: "Run trainer failed", text: "oom", level: "error", kind: "failed" }], cursor: 2 },
      { alerts: [], cursor: 2 },
    ];
    const asked = [];
    const api = { get: vi.fn(async (path, params) => { asked.push([path, params]); return answers.shift() ?? { alerts: [], cursor: 2 }; }) };
    const shown = [];
    const follow = followAlerts({ api, notify: (n) => shown.push(n), openCommand: "runwidget:open-run", interval: 1000 });
    await follow.check();
    expect(shown).toEqual([]);
    await follow.check();
    await follow.check();
    expect(asked.map(([, p]) => p)).toEqual([{}, { since: 1 }, { since: 2 }]);
    expect(shown.length).toBe(1);
    expect(shown[0].type).toBe("error");
    expect(shown[0].message).toBe("Run trainer failed (oom)");
    expect(notificationOf({ name: "trainer", title: "Look", text: "", level: "warn", run_id: "r" }).message).toBe("trainer: Look");
    expect(shown[0].options.autoClose).toBe(false);
    expect(shown[0].options.actions[0]).toEqual({ label: "Open run", commandId: "runwidget:open-run", args: { runId: "r1", name: "trainer" } });
    follow.stop();
    vi.useRealTimers();
  });

  it("maps levels to JupyterLab's notification types", () => {
    expect(notificationOf({ level: "info", title: "t", run_id: "r" }).type).toBe("info");
    expect(notificationOf({ level: "warn", title: "t", run_id: "r" }).type).toBe("warning");
    expect(notificationOf({ level: "warn", title: "t", run_id: "r" }).options.autoClose).toBe(15000);
  });
});
