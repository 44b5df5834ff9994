// Runs side by side: the lines read again are matched to the chart's by run and series,
// and a chart's request to the kernel is answered, refused or timed out by its id.
import { describe, expect, it, vi } from "vitest";
import { alignRuns } from "../components/comparechart.js";
import { answerBlob, createKernelRequests } from "../kernelrequests.js";

describe("alignRuns", () => {
  it("puts each run's series where the chart has it, empty for a run without it", () => {
    const spec = {
      series: [
        { run: "a", id: "value" },
        { run: "b", id: "train" },
        { run: "b", id: "val" },
        { run: "c", id: "value" },
      ],
    };
    const answer = [
      { run: "b", id: "val", x: [2], y: [0.2] },
      { run: "a", id: "value", x: [1], y: [0.1] },
      { run: "b", id: "train", x: [3], y: [0.3] },
    ];
    expect(alignRuns(spec, answer)).toEqual([
      { run: "a", id: "value", x: [1], y: [0.1] },
      { run: "b", id: "train", x: [3], y: [0.3] },
      { run: "b", id: "val", x: [2], y: [0.2] },
      { x: [], y: [] },
    ]);
  });
});

describe("createKernelRequests", () => {
  it("resolves the answer that names the request, and no other", async () => {
    const sent = [];
    const requests = createKernelRequests({ send: (m) => sent.push(m) });
    const first = requests.ask({ type: "metric_range", name: "loss" });
    const second = requests.ask({ type: "metric_csv", name: "loss" });
    expect(sent.map((m) => m.request)).toEqual([1, 2]);
    expect(requests.onMessage({ type: "metric_csv", request: 2 }, ["b"])).toBe(true);
    expect(requests.onMessage({ type: "snapshot" })).toBe(false); // not a chart's answer
    expect(requests.onMessage({ type: "metric_range", request: 1, series: [] })).toBe(true);
    await expect(second).resolves.toEqual({ msg: { type: "metric_csv", request: 2 }, buffers: ["b"] });
    await expect(first).resolves.toMatchObject({ msg: { series: [] } });
  });

  it("rejects a request the kernel refused with its text, and one it never answers", async () => {
    vi.useFakeTimers();
    try {
      const requests = createKernelRequests({ send: () => {} }, 1000);
      const refused = requests.ask({ type: "metric_csv", name: "nope" });
      expect(requests.onMessage({ type: "error", request: 1, text: "none of these runs has a metric 'nope'" })).toBe(true);
      await expect(refused).rejects.toThrow("none of these runs");
      // An error that names no request of ours is the widget's to show, not ours.
      expect(requests.onMessage({ type: "error", text: "open failed" })).toBe(false);
      const silent = requests.ask({ type: "metric_csv", name: "loss" });
      vi.advanceTimersByTime(1001);
      await expect(silent).rejects.toThrow("did not answer");
    } finally {
      vi.useRealTimers();
    }
  });

  it("makes a Blob of the answer's buffer", async () => {
    const bytes = new TextEncoder().encode("run,index\na,0\n");
    const blob = answerBlob([new DataView(bytes.buffer)]);
    expect(blob.type).toBe("text/csv;charset=utf-8");
    expect(await blob.text()).toBe("run,index\na,0\n");
    expect((await answerBlob(undefined).text()).length).toBe(0);
  });
});
