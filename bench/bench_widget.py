"""RunDetails benchmark on the run of the spec: 1M metric points over 5 metrics, 1,000 child
runs and 10,000 output lines.

Measures, on this machine:

* time from ``show()`` to the widget drawn in a real browser (JupyterLab in headless
  Chromium): the page (header, tables, log) and the five charts with their points, first
  in a fresh browser (the front-end code loads then) and again with its cache warm;
* bytes sent per poll: an idle run, and a busy one (5 metrics at 50 points/s each, 5 lines/s);
* kernel CPU while polling an idle run (default interval, 10 s).

Not a test: the machines are shared and noisy. Needs chromium (scripts/setup.sh).

    python bench/bench_widget.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runwidget.store import Batch, SqlStore  # noqa: E402

METRICS = ["loss", "accuracy", "learning_rate", "grad_norm", "val_loss"]
SCREENSHOT = os.path.join(tempfile.gettempdir(), "runwidget-bench-widget.png")
TARGETS = {"show_to_drawn_s": 2.0, "bytes_per_poll": 100_000, "idle_cpu_percent": 1.0}


def make_run(uri: str, points: int, children: int, lines: int) -> str:
    """The spec's run, written straight into the store (Running, so that it is polled)."""
    store = SqlStore(uri)
    now = time.time()
    run = store.create_run(
        "bench", run_type="automl", status="Running", started=now, display_name="bench run",
        properties={"primary_metric": "AUC", "goal": "maximize"},
    )  # fmt: skip
    per_metric = points // len(METRICS)
    for name in METRICS:
        for start in range(0, per_metric, 50_000):
            rows = [
                (name, "scalar", float(i), math.sin(i / 5000) + random.random() * 0.1, now)
                for i in range(start, min(start + 50_000, per_metric))
            ]
            store.write({run.id: Batch(metrics=rows)})
    text = "epoch {}: loss=0.1234 accuracy=0.9876 learning_rate=0.001 (some more words)"
    logs = [("stderr" if i % 50 == 0 else "stdout", text.format(i), now) for i in range(lines)]
    store.write({run.id: Batch(logs=logs)})
    for i in range(children):
        child = store.create_run(
            "bench", parent_id=run.id, run_type="child", status="Running", started=now,
            properties={"iteration": i, "preprocessor": "StandardScaler", "algorithm": "LightGBM"},
        )  # fmt: skip
        store.write({child.id: Batch(metrics=[("AUC", "scalar", None, random.random(), now)])})
        store.update_run(child.id, status="Completed", ended=now + 1)
    store.beat([run.id], time.time())
    store.close()
    return run.id


# -- in the kernel's process -------------------------------------------------------------
class _Counting:
    """Counts what a RunDetails sends (deltas and snapshots), without a browser."""

    def __init__(self, widget) -> None:  # noqa: ANN001
        self.widget = widget
        self.polls: list[int] = []
        loop = widget._loop
        original = loop.tick

        def tick(poller):  # noqa: ANN001, ANN202
            before = widget.bytes_sent
            result = original(poller)
            self.polls.append(widget.bytes_sent - before)
            return result

        loop.tick = tick


def _caught_up(widget) -> None:  # noqa: ANN001
    """Wait until the widget has read everything (its children's metrics come after the
    charts), so that what follows measures steady polling."""
    deadline = time.monotonic() + 120
    while widget._view.behind and time.monotonic() < deadline:
        time.sleep(0.05)
    with widget._lock:  # a poll in progress has finished
        pass


def measure_in_process(uri: str, run_id: str, quick: bool) -> dict[str, float]:
    from runwidget import RunDetails
    from runwidget.sources import StoreSource
    from runwidget.store import open_store

    store = open_store(uri)
    out: dict[str, float] = {}

    started = time.perf_counter()
    widget = RunDetails(StoreSource(store, run_id), interval=10)
    out["construct_s"] = time.perf_counter() - started
    widget._loop.first_read.wait(120)
    out["charts_read_s"] = time.perf_counter() - started
    _caught_up(widget)
    out["first_full_read_s"] = time.perf_counter() - started
    out["snapshot_bytes"] = widget.bytes_sent

    # Kernel CPU while polling an idle run, at the default interval.
    counting = _Counting(widget)
    wall = 30 if quick else 60
    cpu0, t0 = time.process_time(), time.monotonic()
    time.sleep(wall)
    cpu = time.process_time() - cpu0
    out["idle_cpu_percent"] = 100 * cpu / (time.monotonic() - t0)
    out["idle_polls"] = len(counting.polls)
    out["idle_bytes_per_poll"] = statistics.mean(counting.polls) if counting.polls else 0
    widget.close()

    # A busy run: points and lines keep coming; polls every 5 s.
    widget = RunDetails(StoreSource(store, run_id), interval=5)
    widget._loop.first_read.wait(120)
    _caught_up(widget)
    counting = _Counting(widget)
    stop = threading.Event()

    def writer() -> None:
        step = 1_000_000
        while not stop.wait(0.1):
            now = time.time()
            rows = [(name, "scalar", float(step + k), random.random(), now)
                    for name in METRICS for k in range(5)]  # fmt: skip
            step += 5
            logs = [("stdout", f"step {step}: still training", now)] if step % 10 == 0 else []
            store.write({run_id: Batch(metrics=rows, logs=logs)})

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    time.sleep(16 if quick else 31)
    stop.set()
    thread.join()
    widget.close()
    busy = counting.polls[1:] or counting.polls  # the first poll may catch up a partial second
    out["busy_polls"] = len(counting.polls)
    out["busy_bytes_per_poll_mean"] = statistics.mean(busy) if busy else 0
    out["busy_bytes_per_poll_max"] = max(busy) if busy else 0
    return out


# -- in a browser ----------------------------------------------------------------------------
SHOW = """
import os, time
from runwidget import RunDetails
from runwidget.sources import StoreSource
from runwidget.store import open_store
t0 = time.time()
details = RunDetails(StoreSource(open_store(), {run_id!r}))
details.show()
print("SHOWN_AT", t0, "PID", os.getpid())
"""

# Installed in the page before it loads: notes the moment each part is first drawn (a
# mutation observer, so the figures do not depend on how often a test asks).
MARKS = """
window.__rwMarks = {};
const mark = (k) => { if (!(k in window.__rwMarks)) window.__rwMarks[k] = Date.now() / 1000; };
new MutationObserver(() => {
  const page = document.querySelector(".runwidget > .rw-page");
  if (!page) return;
  const rows = page.querySelectorAll(".rw-iterations tbody tr").length;
  const lines = page.querySelectorAll(".rw-log-lines .rw-line").length;
  if (rows > 0 && lines > 0) mark("page");
  const charts = [...page.querySelectorAll(".rw-chart[data-chart^='m:'] path.line")]
    .filter((p) => (p.getAttribute("d") || "").split("L").length > 500);
  if (charts.length >= 5 && "page" in window.__rwMarks) mark("charts");
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


def measure_in_browser(quick: bool, points: int, children: int, lines: int) -> dict[str, float]:
    import pytest  # the UI harness is written as pytest fixtures; its helpers work alone

    from tests.ui import conftest as ui

    server = ui._start_jupyter("lab")
    out: dict[str, float] = {}
    try:
        run_id = make_run(server.store_uri, points, children, lines)
        server.write_notebook("bench.ipynb", SHOW.format(run_id=run_id))
        from playwright.sync_api import sync_playwright

        profile = tempfile.mkdtemp(prefix="runwidget-bench-chromium-")
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=ui.CHROMIUM, headless=True, args=ui.CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
            )  # fmt: skip
            context.add_init_script(MARKS)
            # First in a fresh browser (the widget's and the chart library's code load
            # then), then once more in a new kernel with the browser's cache warm.
            for attempt in ("cold", "warm"):
                page = context.new_page()
                server.open_notebook(page, "bench.ipynb")
                server.run_all(page)
                page.wait_for_function(
                    "() => window.__rwMarks && 'charts' in window.__rwMarks", timeout=120_000
                )
                text = page.locator(".jp-OutputArea-output", has_text="SHOWN_AT").inner_text()
                t0, pid = float(text.split()[1]), int(text.split()[3])
                marks = page.evaluate("window.__rwMarks")
                out[f"{attempt}_page_s"] = marks["page"] - t0
                out[f"{attempt}_drawn_s"] = marks["charts"] - t0
                if attempt == "warm":
                    break
                page.locator(".rw-chart[data-chart^='m:']").first.scroll_into_view_if_needed()
                page.screenshot(path=SCREENSHOT)
                server.delete_sessions()
                page.close()
            # The kernel's CPU while its widget polls the (now idle) run.
            time.sleep(5)
            wall = 30 if quick else 60
            cpu0, w0 = _cpu_seconds(pid), time.monotonic()
            time.sleep(wall)
            out["kernel_idle_cpu_percent"] = (
                100 * (_cpu_seconds(pid) - cpu0) / (time.monotonic() - w0)
            )
            context.close()
    except pytest.fail.Exception as e:  # the harness reports set-up problems this way
        raise SystemExit(f"browser benchmark could not start: {e}") from None
    finally:
        server.delete_sessions()
        ui._stop(server)
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter CPU and busy-run windows")
    parser.add_argument("--no-browser", action="store_true", help="skip the browser figures")
    args = parser.parse_args()
    points, children, lines = 1_000_000, 1_000, 10_000

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/runs.db"
        started = time.perf_counter()
        run_id = make_run(uri, points, children, lines)
        print(f"wrote the run: {points:,} points over {len(METRICS)} metrics, {children:,} "
              f"children, {lines:,} lines in {time.perf_counter() - started:.1f} s")  # fmt: skip
        kernel = measure_in_process(uri, run_id, args.quick)
    browser = {} if args.no_browser else measure_in_browser(args.quick, points, children, lines)

    print()
    print("in the kernel's process")
    print(f"  RunDetails(...) returns after          {kernel['construct_s']:8.2f} s")
    print(f"  charts read (all points) at            {kernel['charts_read_s']:8.2f} s")
    print(f"  children's metrics read at             {kernel['first_full_read_s']:8.2f} s")
    print(f"  first view sent                        {kernel['snapshot_bytes'] / 1e3:8.1f} KB")
    print(f"  bytes per poll, idle run               {kernel['idle_bytes_per_poll']:8.0f} B"
          f"   ({kernel['idle_polls']} polls)")  # fmt: skip
    mean, most = kernel["busy_bytes_per_poll_mean"] / 1e3, kernel["busy_bytes_per_poll_max"] / 1e3
    print(f"  bytes per poll, busy run (mean / max)  {mean:8.1f} / {most:.1f} KB"
          f"   target <= {TARGETS['bytes_per_poll'] / 1e3:.0f} KB")  # fmt: skip
    print(f"  CPU while polling the idle run         {kernel['idle_cpu_percent']:8.2f} %"
          f"   target < {TARGETS['idle_cpu_percent']} %")  # fmt: skip
    if browser:
        print("in JupyterLab (headless Chromium), from show()")
        for attempt, label in (("cold", "first in a fresh browser"), ("warm", "again, cache warm")):
            print(f"  {label:24s} page drawn {browser[attempt + '_page_s']:5.2f} s, "
                  f"all 5 charts drawn {browser[attempt + '_drawn_s']:5.2f} s"
                  f"   target <= {TARGETS['show_to_drawn_s']} s")  # fmt: skip
        print(f"  (screenshot of the first: {SCREENSHOT})")
        cpu = browser["kernel_idle_cpu_percent"]
        print(f"  kernel CPU, widget polling idle run    {cpu:8.2f} %"
              f"   target < {TARGETS['idle_cpu_percent']} %")  # fmt: skip
    print(f"(load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
