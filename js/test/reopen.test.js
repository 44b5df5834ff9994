// The reopened notebook's RunDetails output (js/lab/reopen.js): what the bundle names, which
// view an output gets, and when the server counts as serving the run.
import { describe, expect, it, vi } from "vitest";
import extension, { RANK, RUNS_MIME, RUN_MIME, WIDGET_VIEW, chooseView, readReference, readRunsReference, serves } from "../lab/reopen.js";
import { ApiError } from "../portal/api.js";

const reference = { runId: "r-1", store: "sqlite:////data/runs.db", name: "r-1" };

describe("readReference", () => {
  it("reads the run id, the store and the name", () => {
    expect(readReference({ version: 1, run_id: "r-1", store: "sqlite:////data/runs.db", name: "<b>x</b>" })).toEqual({
      runId: "r-1",
      store: "sqlite:////data/runs.db",
      name: "<b>x</b>",
    });
  });
  it("names the run by its id when it has no name", () => {
    expect(readReference({ version: 1, run_id: "r-1", store: "s" }).name).toBe("r-1");
  });
  it("refuses what it cannot read: nothing, no id, a newer version", () => {
    expect(readReference(undefined)).toBeNull();
    expect(readReference("r-1")).toBeNull();
    expect(readReference({ version: 1, store: "s" })).toBeNull();
    expect(readReference({ version: 1, run_id: "r-1" })).toBeNull();
    expect(readReference({ version: 2, run_id: "r-1", store: "s" })).toBeNull();
  });
});

describe("readRunsReference", () => {
  it("reads a comparison's runs and their store", () => {
    const bundle = { version: 1, store: "s", runs: [{ run_id: "a", name: "<b>A</b>" }, { run_id: "b" }] };
    expect(readRunsReference(bundle)).toEqual({ store: "s", runs: [{ runId: "a", name: "<b>A</b>" }, { runId: "b", name: "b" }] });
  });
  it("refuses no runs, a run without an id, no store, a newer version", () => {
    expect(readRunsReference(undefined)).toBeNull();
    expect(readRunsReference({ version: 1, store: "s", runs: [] })).toBeNull();
    expect(readRunsReference({ version: 1, store: "s", runs: [{ name: "x" }] })).toBeNull();
    expect(readRunsReference({ version: 1, runs: [{ run_id: "a" }] })).toBeNull();
    expect(readRunsReference({ version: 2, store: "s", runs: [{ run_id: "a" }] })).toBeNull();
  });
});

describe("chooseView", () => {
  const base = { reference, modelId: "m-1", canDelegate: true, sessionKnown: true, live: false };
  it("shows the live widget when the kernel has its comm", () => {
    expect(chooseView({ ...base, live: true })).toBe("widget");
  });
  it("draws the run when the kernel is gone, or new and without the model", () => {
    expect(chooseView(base)).toBe("run");
  });
  it("hands over to the widget where no notebook session can be asked (Voila)", () => {
    expect(chooseView({ ...base, sessionKnown: false })).toBe("widget");
  });
  it("cannot hand over without the output area's rendermime", () => {
    expect(chooseView({ ...base, live: true, canDelegate: false })).toBe("run");
  });
  it("shows the summary when the output names no run", () => {
    expect(chooseView({ ...base, reference: null })).toBe("summary");
    expect(chooseView({ ...base, reference: null, modelId: null, sessionKnown: false })).toBe("summary");
  });
});

describe("serves", () => {
  const status = (store) => () => Promise.resolve({ store });
  it("is true for the server's store and a run it knows", async () => {
    const api = { run: vi.fn(async () => ({ id: "r-1" })) };
    expect(await serves(api, status(reference.store), reference)).toBe(true);
    expect(api.run).toHaveBeenCalledWith("r-1");
  });
  it("is false for another store, without asking for the run", async () => {
    const api = { run: vi.fn() };
    expect(await serves(api, status("postgresql://team@db/runs"), reference)).toBe(false);
    expect(api.run).not.toHaveBeenCalled();
  });
  it("is false for a run the server does not know, or a server without runwidget", async () => {
    const missing = {
      run: async () => {
        throw new ApiError(404, "no run r-1");
      },
    };
    expect(await serves(missing, status(reference.store), reference)).toBe(false);
    const noApi = () => Promise.reject(new ApiError(404, "404 Not Found"));
    expect(await serves({ run: vi.fn() }, noApi, reference)).toBe(false);
  });
  it("checks a comparison's store only (its runs are asked for when drawn)", async () => {
    const runs = { store: reference.store, runs: [{ runId: "a", name: "a" }] };
    const api = { run: vi.fn() };
    expect(await serves(api, status(reference.store), runs)).toBe(true);
    expect(await serves(api, status("other"), runs)).toBe(false);
    expect(api.run).not.toHaveBeenCalled();
  });
});

describe("the mime extension", () => {
  it("renders the run and runs bundles ahead of the widget manager's renderer (rank -10)", () => {
    expect(extension.rendererFactory.mimeTypes).toEqual([RUN_MIME, RUNS_MIME]);
    expect(extension.rank).toBe(RANK);
    expect(RANK).toBeLessThan(-10);
    expect(extension.rendererFactory.safe).toBe(false);
    expect(WIDGET_VIEW).toBe("application/vnd.jupyter.widget-view+json");
  });
});
