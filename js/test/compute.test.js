// Compute targets in the front end: the Compute page's table and the target of each run in
// the Runs sidebar, with names, addresses and problems drawn as text.
import { describe, expect, it, vi } from "vitest";
import { createApi } from "../portal/api.js";
import { createTargetsTable } from "../portal/compute.js";
import { createRunsSidebar } from "../lab/sidebar.js";

const XSS = '<img src=x onerror="alert(1)">';

const TARGETS = [
  { name: "local", kind: "local", address: "host-a", reachable: true, problem: null, counts: { queued: 0, running: 1, ended: 4 } },
  { name: XSS, kind: "ray", address: `http://${XSS}:8265`, reachable: false, problem: `cannot reach ${XSS}`, counts: { queued: 2, running: 0, ended: 1 } },
  { name: "gone", kind: null, address: null, reachable: false, problem: "not attached", counts: { queued: 0, running: 0, ended: 3 } },
];

describe("createTargetsTable", () => {
  it("lists each target with its state and counts, strings as text", () => {
    const table = createTargetsTable({ runsLink: (name) => `/runwidget/runs?target=${encodeURIComponent(name)}` });
    document.body.appendChild(table.el);
    table.update(TARGETS);
    const rows = [...table.el.querySelectorAll("tbody tr")];
    expect(rows.map((r) => r.dataset.id)).toEqual(["local", XSS, "gone"]); // the server's order
    expect(table.el.querySelector("img")).toBeNull();
    const cells = (row) => [...row.querySelectorAll("td")].map((td) => td.textContent);
    expect(cells(rows[0])).toEqual(["local", "local", "host-a", "reachable", "0", "1", "4"]);
    expect(cells(rows[1])[0]).toBe(XSS);
    expect(cells(rows[1])[2]).toBe(`http://${XSS}:8265`);
    expect(rows[1].querySelector(".rw-target-problem").textContent).toBe(`cannot reach ${XSS}`);
    expect(cells(rows[1]).slice(4)).toEqual(["2", "0", "1"]);
    expect(cells(rows[2]).slice(1, 3)).toEqual(["", ""]);
    const link = rows[1].querySelector("a.rw-target-name");
    expect(link.getAttribute("href")).toBe(`/runwidget/runs?target=${encodeURIComponent(XSS)}`);
    table.el.remove();
  });
});

describe("api.targets and the target filter", () => {
  it("asks for targets, and for runs of one target", async () => {
    const seen = [];
    vi.stubGlobal("fetch", async (url) => {
      seen.push(url);
      return { ok: true, status: 200, headers: new Headers(), json: async () => ({ targets: [], runs: [] }) };
    });
    try {
      const api = createApi({ base: "/runwidget/api" });
      await api.targets();
      await api.runs({ target: "far", limit: 10 });
      expect(seen).toEqual(["/runwidget/api/targets", "/runwidget/api/runs?target=far&limit=10"]);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("Runs sidebar", () => {
  it("shows the target of a run not on local, as text", async () => {
    const runs = [
      { id: "a", name: "on local", experiment: "e", status: "Completed", started: 1, ended: 2, children: 0, seq: 1, target: "local" },
      { id: "b", name: "on ray", experiment: "e", status: "Queued", started: null, ended: null, children: 0, seq: 2, target: XSS },
      { id: "c", name: "old", experiment: "e", status: "Completed", started: 1, ended: 2, children: 0, seq: 3 },
    ];
    const api = {
      async runs(params) {
        return { runs: runs.slice(params.offset || 0, (params.offset || 0) + params.limit), total: runs.length, offset: 0, cursor: 3, time: 10 };
      },
      async experiments() {
        return { experiments: [{ name: "e" }] };
      },
    };
    const sidebar = createRunsSidebar({ api, isVisible: () => true, actions: {} });
    document.body.appendChild(sidebar.el);
    sidebar.start();
    await vi.waitFor(() => expect(sidebar.el.querySelectorAll(".rw-sb-row").length).toBe(3));
    const target = (id) => sidebar.el.querySelector(`[data-run-id="${id}"] .rw-sb-target`);
    expect(target("a").hidden).toBe(true);
    expect(target("a").textContent).toBe("");
    expect(target("c").hidden).toBe(true);
    expect(target("b").hidden).toBe(false);
    expect(target("b").textContent).toBe(XSS);
    expect(sidebar.el.querySelector("img")).toBeNull();
    sidebar.destroy();
    sidebar.el.remove();
  });
});

describe("api: unchanged answers", () => {
  it("sends the last ETag and serves a 304 from the answer it holds, with the new time", async () => {
    const sent = [];
    let calls = 0;
    vi.stubGlobal("fetch", async (url, init) => {
      sent.push(init.headers["If-None-Match"]);
      calls += 1;
      if (calls === 1) return { ok: true, status: 200, headers: new Headers({ ETag: '"a"', "X-Runwidget-Time": "10" }), json: async () => ({ runs: [1], time: 10 }) };
      return { ok: false, status: 304, headers: new Headers({ ETag: '"a"', "X-Runwidget-Time": "12.5" }), json: async () => { throw new Error("no body"); } };
    });
    const api = createApi({ base: "/runwidget/api" });
    expect(await api.runs({ limit: 5 })).toEqual({ runs: [1], time: 10 });
    expect(await api.runs({ limit: 5 })).toEqual({ runs: [1], time: 12.5 });
    expect(sent).toEqual([undefined, '"a"']);
    vi.unstubAllGlobals();
  });
});
