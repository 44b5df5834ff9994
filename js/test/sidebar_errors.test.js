// The Runs sidebar when the server cannot list runs (its run store is down), the API
// client's error messages, and values that JSON cannot carry (NaN, infinities) drawn as text.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, createApi } from "../portal/api.js";
import { createRunsSidebar } from "../lab/sidebar.js";

const XSS = '<img src=x onerror="alert(1)">';
const DOWN = `run store postgresql+psycopg://u:***@db.example:5432/runs did not answer within 10 s ${XSS}`;

function run(i, value) {
  return { id: `run-${i}`, name: `run ${i}`, experiment: "e", status: "Completed", started: 100, ended: 110, children: 0, seq: i + 1, primary_metric: { name: "loss", value } };
}

function flakyApi() {
  return {
    down: true,
    runsList: [run(0, "NaN"), run(1, "Infinity"), run(2, 0.5)],
    async runs(params) {
      if (this.down) throw new ApiError(503, DOWN);
      const offset = params.offset || 0;
      const runs = params.since ? [] : this.runsList.slice(offset, offset + params.limit);
      return { runs, total: this.runsList.length, offset, cursor: 3, time: 200 };
    },
    async experiments() {
      if (this.down) throw new ApiError(503, DOWN);
      return { experiments: [{ name: "e" }] };
    },
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
  document.body.replaceChildren();
});

describe("Runs sidebar with the run store down", () => {
  it("shows the server's message as a notice, as text, until a read works", async () => {
    const api = flakyApi();
    const sidebar = createRunsSidebar({ api, isVisible: () => true, actions: {} });
    document.body.appendChild(sidebar.el);
    const notice = sidebar.el.querySelector(".rw-sb-notice");
    const count = sidebar.el.querySelector(".rw-sb-count");
    expect(count.textContent).toBe("Loading runs…");
    expect(notice.hidden).toBe(true);
    vi.spyOn(console, "warn").mockImplementation(() => {});

    sidebar.start();
    await vi.waitFor(() => expect(notice.hidden).toBe(false));
    expect(notice.getAttribute("role")).toBe("alert");
    expect(notice.textContent).toBe(`Cannot list runs: ${DOWN}`);
    expect(sidebar.el.querySelector("img")).toBeNull();
    expect(count.textContent).toBe(""); // no "Loading" for ever
    expect(sidebar.el.querySelectorAll(".rw-sb-row").length).toBe(0);

    api.down = false;
    await sidebar.poll();
    await vi.waitFor(() => expect(sidebar.el.querySelectorAll(".rw-sb-row").length).toBe(3));
    expect(notice.hidden).toBe(true);
    expect(count.textContent).toBe("3 runs");
    sidebar.destroy();
  });

  it("draws NaN and infinite metric values as text", async () => {
    const api = flakyApi();
    api.down = false;
    const sidebar = createRunsSidebar({ api, isVisible: () => true, actions: {} });
    document.body.appendChild(sidebar.el);
    sidebar.start();
    await vi.waitFor(() => expect(sidebar.el.querySelectorAll(".rw-sb-row").length).toBe(3));
    const metric = (id) => sidebar.el.querySelector(`[data-run-id="${id}"] .rw-sb-metric`).textContent;
    expect(metric("run-0")).toBe("loss NaN");
    expect(metric("run-1")).toBe("loss Infinity");
    expect(metric("run-2")).toBe("loss 0.5");
    sidebar.destroy();
  });
});

describe("createApi errors", () => {
  function answer(status, body, contentType = "application/json") {
    return vi.fn(async () => new Response(body, { status, statusText: status === 503 ? "Service Unavailable" : "Bad Gateway", headers: { "Content-Type": contentType } }));
  }

  it("takes the message from the answer's error field", async () => {
    vi.stubGlobal("fetch", answer(503, JSON.stringify({ error: DOWN, reason: "Service Unavailable" })));
    const error = await createApi({ base: "/runwidget/api" }).runs({}).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(503);
    expect(error.message).toBe(DOWN);
  });

  it("takes Jupyter's message field too", async () => {
    vi.stubGlobal("fetch", answer(403, JSON.stringify({ message: "not allowed", reason: "Forbidden" })));
    const error = await createApi({ base: "/runwidget/api" }).runs({}).catch((e) => e);
    expect(error.message).toBe("not allowed");
  });

  it("falls back on the status for an answer that is not JSON", async () => {
    vi.stubGlobal("fetch", answer(502, "<html>proxy error</html>", "text/html"));
    const error = await createApi({ base: "/runwidget/api" }).runs({}).catch((e) => e);
    expect(error.message).toBe("502 Bad Gateway");
  });
});
