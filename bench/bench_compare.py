"""Runs side by side: 10 runs x 5 metrics x 100,000 points each, compared in a notebook.

Measures, on this machine:

* in the kernel's process: time to build ``RunDetails([...])`` (every run read, lines
  downsampled), the bytes of the comparison sent to the browser, the bytes an idle poll
  sends (the change probes find nothing: nothing is read or sent), and the bytes each poll
  sends (mean and max) while one of the 10 runs keeps logging its 5 metrics;
* in JupyterLab in headless Chromium: time from the cell's start to the comparison drawn
  (legend, a chart per metric with its ten lines, the stats and property tables), and how
  much of it the cell took (every run read, the widget shown).

Not a test: the machines are shared and noisy. Needs chromium (scripts/setup.sh).

    python bench/bench_compare.py [--quick] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runwidget.store import Batch, SqlStore  # noqa: E402

METRICS = ["loss", "accuracy", "learning_rate", "grad_norm", "val_loss"]
TARGETS = {"first_draw_s": 2.0, "idle_bytes_sent": 0}
# The live run: a step of every metric every 1 / LIVE_RATE s, for LIVE_SECONDS.
LIVE_RATE = 20
LIVE_SECONDS = 15


def _curve(i: int, points: int) -> float:
    return math.exp(-i / (points / 4)) + random.random() * 0.05


def make_runs(uri: str, runs: int, points: int) -> list[str]:
    """``runs`` ended runs of ``points`` points per metric, written through the store."""
    store = SqlStore(uri)
    now = time.time()
    ids = []
    for r in range(runs):
        run = store.create_run(
            "compare", status="Running", started=now, display_name=f"run {r}",
            properties={"lr": 10 ** -(1 + r % 4), "batch": 32 * (1 + r % 2)},
        )  # fmt: skip
        for name in METRICS:
            for start in range(0, points, 50_000):
                rows = [
                    (name, "scalar", float(i), _curve(i, points), now)
                    for i in range(start, min(start + 50_000, points))
                ]
                store.write({run.id: Batch(metrics=rows)})
        store.update_run(run.id, status="Completed", ended=now + 1)
        ids.append(run.id)
    store.close()
    return ids


def measure_in_process(uri: str, ids: list[str]) -> dict[str, float]:
    from runwidget import RunDetails
    from runwidget.sources import StoreSource
    from runwidget.store import open_store

    store = open_store(uri)
    # One live run, so that the widget keeps polling while nothing changes.
    live = store.create_run("compare", status="Running", started=time.time(), display_name="live")
    sources = [StoreSource(store, i) for i in ids[:-1]] + [StoreSource(store, live.id)]
    started = time.perf_counter()
    widget = RunDetails(sources)
    out = {"build_s": time.perf_counter() - started}
    out["snapshot_bytes"] = len(json.dumps(widget._compare))
    sent: list[int] = []
    original = widget._send

    def counting(msg, buffers=None):  # noqa: ANN001, ANN202
        # Every message to the browser: state updates and custom messages, with buffers.
        sent.append(
            len(json.dumps(msg, default=str)) + sum(memoryview(b).nbytes for b in buffers or ())
        )
        return original(msg, buffers)

    widget._send = counting
    time.sleep(10)  # 20 probes of an idle comparison
    out["idle_bytes_sent"] = sum(sent)
    sent.clear()
    step = 0
    deadline = time.monotonic() + LIVE_SECONDS
    while time.monotonic() < deadline:  # the live run logs; each poll sends what is new
        now = time.time()
        rows = [(name, "scalar", float(step), _curve(step, 1000), now) for name in METRICS]
        store.write({live.id: Batch(metrics=rows)})
        step += 1
        time.sleep(1 / LIVE_RATE)
    time.sleep(1.5)  # the last poll
    out["live_polls"] = len(sent)
    out["live_bytes_per_poll_mean"] = sum(sent) / len(sent) if sent else 0
    out["live_bytes_per_poll_max"] = max(sent, default=0)
    widget.close()
    store.update_run(live.id, status="Completed", ended=time.time())
    return out


SHOW = """
import time
from runwidget import RunDetails
from runwidget.sources import StoreSource
from runwidget.store import open_store
t0 = time.time()
store = open_store()
compare = RunDetails([StoreSource(store, i) for i in {ids!r}])
compare.show()
print("SHOWN_AT", t0, time.time())
"""

MARKS = """
window.__rwMarks = {};
new MutationObserver(() => {
  const el = document.querySelector(".runwidget.rw-compare");
  if (!el || "drawn" in window.__rwMarks) return;
  const canvases = el.querySelectorAll(".rw-chart canvas").length;
  const rows = el.querySelectorAll(".rw-compare-properties tbody tr").length;
  if (canvases >= 5 && rows > 0) window.__rwMarks.drawn = Date.now() / 1000;
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


def measure_in_browser(ids: list[str], store_uri: str, server) -> dict[str, float]:  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    from tests.ui import conftest as ui

    server.write_notebook("compare.ipynb", SHOW.format(ids=ids))
    out: dict[str, float] = {}
    profile = tempfile.mkdtemp(prefix="runwidget-bench-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=ui.CHROMIUM, headless=True, args=ui.CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )  # fmt: skip
        context.add_init_script(MARKS)
        for attempt in ("cold", "warm"):
            page = context.new_page()
            server.open_notebook(page, "compare.ipynb")
            server.run_all(page)
            page.wait_for_function(
                "() => window.__rwMarks && 'drawn' in window.__rwMarks", timeout=120_000
            )
            text = page.locator(".jp-OutputArea-output", has_text="SHOWN_AT").inner_text()
            t0, shown = map(float, text.split()[1:3])
            out[f"{attempt}_first_draw_s"] = page.evaluate("window.__rwMarks.drawn") - t0
            out[f"{attempt}_of_it_in_the_cell_s"] = shown - t0  # the runs read, shown
            if attempt == "cold":
                page.screenshot(
                    path=str(Path(tempfile.gettempdir()) / "runwidget-bench-compare.png")
                )
            server.delete_sessions()
            page.close()
        context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 points per metric")
    parser.add_argument("--no-browser", action="store_true", help="skip the browser figures")
    args = parser.parse_args()
    runs, points = 10, 10_000 if args.quick else 100_000
    figures: dict[str, float] = {}
    if args.no_browser:
        with tempfile.TemporaryDirectory() as tmp:
            uri = f"sqlite:///{tmp}/runs.db"
            started = time.perf_counter()
            ids = make_runs(uri, runs, points)
            print(f"wrote {runs} runs x {len(METRICS)} metrics x {points:,} points "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
            figures |= measure_in_process(uri, ids)
    else:
        from tests.ui import conftest as ui

        server = ui._start_jupyter("lab")
        try:
            started = time.perf_counter()
            ids = make_runs(server.store_uri, runs, points)
            print(f"wrote {runs} runs x {len(METRICS)} metrics x {points:,} points "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
            figures |= measure_in_process(server.store_uri, ids)
            figures |= measure_in_browser(ids, server.store_uri, server)
        finally:
            server.delete_sessions()
            ui._stop(server)
    print(f"\n{'figure':<28}{'value':>14}  target")
    for name, value in figures.items():
        target = next((t for k, t in TARGETS.items() if name.endswith(k)), None)
        mark = (
            "" if target is None else f"<= {target}  " + ("met" if value <= target else "NOT met")
        )
        print(f"{name:<28}{value:>14,.3f}  {mark}")


if __name__ == "__main__":
    main()
