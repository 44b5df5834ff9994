// A list's total: as counted, or "about N" where the server estimated it (total_estimated:
// a store of a million runs is not counted at every request).
import { afterEach, describe, expect, it, vi } from "vitest";
import { formatTotal } from "../components/format.js";
import { createRunsSidebar } from "../lab/sidebar.js";

afterEach(() => document.body.replaceChildren());

describe("list totals", () => {
  it("are said as counted, or about the estimate to two significant digits", () => {
    expect(formatTotal(1)).toBe("1 run");
    expect(formatTotal(10000)).toBe("10000 runs");
    expect(formatTotal(964417, false)).toBe("964417 runs");
    expect(formatTotal(964417, true)).toBe("about 960,000 runs");
    expect(formatTotal(10001, true)).toBe("about 10,000 runs");
    expect(formatTotal(72132, true, "version")).toBe("about 72,000 versions");
  });

  it("the sidebar says about where the server estimated", async () => {
    const runs = [0, 1, 2].map((i) => ({ id: `run-${i}`, name: `run ${i}`, experiment: "e", status: "Completed", started: 100, ended: 110, children: 0, seq: i + 1 }));
    let estimated = true;
    const api = {
      async runs(params) {
        const offset = params.offset || 0;
        return { runs: params.since ? [] : runs.slice(offset, offset + params.limit), total: estimated ? 964417 : 3, total_estimated: estimated, offset, cursor: 3, time: 200 };
      },
      async experiments() {
        return { experiments: [{ name: "e" }] };
      },
    };
    const sidebar = createRunsSidebar({ api, isVisible: () => true, actions: {} });
    document.body.appendChild(sidebar.el);
    const count = sidebar.el.querySelector(".rw-sb-count");
    sidebar.start();
    await vi.waitFor(() => expect(count.textContent).toBe("about 960,000 runs"));
    estimated = false;
    await sidebar.poll();
    await vi.waitFor(() => expect(count.textContent).toBe("3 runs"));
    sidebar.destroy();
  });
});
