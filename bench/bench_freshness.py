"""Freshness benchmark: how soon a change made by another process is drawn, and what
watching an idle run costs.

Measures, in JupyterLab in headless Chromium, with the change probes on and then off:

* widget: time from ``run.log(...)`` + ``run.flush()`` in another process (one point every
  1-2 s, at random offsets) to the point drawn in the RunDetails widget (the loss chart's
  line gets one more segment), median and p95 over 50 points, default interval (10 s);
* sidebar: time from ``store.update_run(..., status=...)`` in another process to the Runs
  sidebar's row showing the new ``data-status``, median and p95 over 50 changes;
* the kernel's CPU while its widget polls the idle run (60 s), and the bytes that idle
  polling sends (the widget's own count, and every comm message of the kernel).

"Probe off" is ``RunDetails.probe_changes = False`` for the widget (a read at each interval
only), and for the sidebar a page whose event-bus socket (/api/events/subscribe) is
answered by the browser itself and stays silent, so that only the sidebar's own 10 s timer
reads. Times are the writer's ``time.time()`` against ``Date.now()`` in a mutation observer
of the page: one machine, one clock.

Last, trackio's poll cost for the same run (its metrics page re-reads each selected run's
history every second), when a Python with trackio is found (this one, or
``--trackio-python``); skipped otherwise.

Not a test: the machines are shared and noisy. Needs chromium (scripts/setup.sh).

    python bench/bench_freshness.py [--quick] [--trackio-python PATH]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_widget import _cpu_seconds  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

SCREENSHOT = os.path.join(tempfile.gettempdir(), "runwidget-bench-freshness.png")
TARGETS = {"p95_s": 1.0, "idle_cpu_percent": 0.5, "idle_bytes_per_poll": 0}
GAP_S = (1.0, 2.0)  # seconds between two changes of a writer, uniform: random offsets
PRE_POINTS = 3  # logged before measuring: a metric logged once is a property, not a chart
SIDEBAR_RUNS = 12  # the status changes go round these (each run changes every 12-24 s)
# The statuses each sidebar run goes through, one change at a time (none of them repeats,
# so that a (run, status) pair names one change; no heartbeat, so never NotResponding).
STATUSES = ["Queued", "Starting", "Running", "Finalizing", "Completed"]
SEED = 15

# -- the other processes -------------------------------------------------------------------
# Each speaks JSON lines: prints what it made, waits for a line on stdin, changes things,
# prints the wall-clock times of its changes, waits for a last line and ends.
WIDGET_WRITER = """
import json, random, sys, time
from runwidget import Experiment
first, values, seed, lo, hi = json.loads(sys.argv[1])
run = Experiment(name="freshness").start_logging(display_name="freshness run")
for value in first:
    run.log("loss", value)
run.flush()
print(json.dumps({"run_id": run.id}), flush=True)
sys.stdin.readline()
rng, times = random.Random(seed), []
for value in values:
    time.sleep(rng.uniform(lo, hi))
    logged = time.time()
    run.log("loss", value)
    run.flush()
    times.append([logged, time.time()])
print(json.dumps({"times": times}), flush=True)
sys.stdin.readline()  # the run stays live (idle, beating) until told
run.complete()
"""

SIDEBAR_WRITER = """
import json, random, sys, time
from runwidget.store import open_store
label, count, statuses, changes, seed, lo, hi = json.loads(sys.argv[1])
store = open_store()
ids = [store.create_run("freshness-sidebar", display_name=f"{label} {k}").id
       for k in range(count)]
print(json.dumps({"run_ids": ids}), flush=True)
sys.stdin.readline()
rng, times = random.Random(seed), []
for n in range(changes):
    run_id, status = ids[n % count], statuses[n // count]
    time.sleep(rng.uniform(lo, hi))
    changed = time.time()
    store.update_run(run_id, status=status)
    times.append([run_id, status, changed, time.time()])
print(json.dumps({"times": times}), flush=True)
sys.stdin.readline()
"""


class _Process:
    """Another Python process of the benchmark, spoken to in JSON lines."""

    def __init__(self, script: str, args: Any, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, json.dumps(args)], env=env, cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip

    def read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"a writer process ended early ({self.proc.wait()})")
        return json.loads(line)

    def say(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def end(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.say()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the kernel -------------------------------------------------------------------------------
SHOW = """
import json, os
from runwidget import RunDetails
from runwidget.sources import StoreSource
from runwidget.store import open_store
RunDetails.probe_changes = {probe!r}
details = RunDetails(StoreSource(open_store(), {run_id!r}))
# Counters for the benchmark: the poller's ticks, the reads they made, and every comm
# message the kernel sends (this widget's and its charts').
_counts = {{"ticks": 0, "reads": 0, "comm_msgs": 0, "comm_bytes": 0}}
_tick, _refresh = details._loop.tick, details._view.refresh
def _counted_tick(poller):
    _counts["ticks"] += 1
    return _tick(poller)
def _counted_refresh(*args, **kwargs):
    _counts["reads"] += 1
    return _refresh(*args, **kwargs)
details._loop.tick, details._view.refresh = _counted_tick, _counted_refresh
_comm_class = type(details.comm)
_publish = _comm_class.publish_msg
def _counted_publish(self, msg_type, data=None, metadata=None, buffers=None, **keys):
    _counts["comm_msgs"] += 1
    _counts["comm_bytes"] += len(json.dumps(data, default=repr)) + sum(
        memoryview(b).nbytes for b in buffers or ())
    return _publish(self, msg_type, data, metadata, buffers, **keys)
_comm_class.publish_msg = _counted_publish
def _freshness_counts():
    return json.dumps({{**_counts, "bytes_sent": details.bytes_sent}})
details.show()
print("KERNEL_PID", os.getpid())
"""


def _kernel_counts(server: Any) -> dict[str, int]:
    """The counters of the notebook's kernel, asked through a shell channel of its own (a
    silent request: nothing shows in the notebook)."""
    from jupyter_client import BlockingKernelClient

    (session,) = server.api("GET", "/api/sessions")
    runtime = server.root_dir.parent / "runtime"
    client = BlockingKernelClient(
        connection_file=str(runtime / f"kernel-{session['kernel']['id']}.json")
    )
    client.load_connection_file()
    client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        msg_id = client.execute(
            "", silent=True, store_history=False, user_expressions={"c": "_freshness_counts()"}
        )
        while True:
            reply = client.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        value = reply["content"]["user_expressions"]["c"]["data"]["text/plain"]
        return json.loads(ast.literal_eval(value))
    finally:
        client.stop_channels()


# -- the page ---------------------------------------------------------------------------------
# Installed before the page loads: when the loss chart's line gains segments, the time each
# new point was first drawn; when a sidebar row shows a status, the time it first did.
MARKS = """
window.__rwFresh = { points: {}, statuses: {}, drawn: 0 };
new MutationObserver(() => {
  const now = Date.now() / 1000;
  const fresh = window.__rwFresh;
  const line = document.querySelector(".runwidget .rw-chart[data-chart='m:loss'] path.line");
  const d = line ? line.getAttribute("d") || "" : "";
  const n = d ? d.split("L").length : 0;
  for (let k = fresh.drawn + 1; k <= n; k++) fresh.points[k] = now;
  fresh.drawn = Math.max(fresh.drawn, n);
  for (const row of document.querySelectorAll(".rw-sb-row[data-run-id]")) {
    const key = row.dataset.runId + "|" + row.dataset.status;
    if (!(key in fresh.statuses)) fresh.statuses[key] = now;
  }
}).observe(document, {
  subtree: true, childList: true, attributes: true, attributeFilter: ["d", "data-status"],
});
"""


FAILED_SCREENSHOT = os.path.join(tempfile.gettempdir(), "runwidget-bench-freshness-failed.png")


def _wait(page: Any, expression: str, what: str, timeout: float = 60_000) -> None:
    try:
        page.wait_for_function(expression, timeout=timeout)
    except PlaywrightTimeout:
        page.screenshot(path=FAILED_SCREENSHOT)
        rows = page.evaluate("document.querySelectorAll('.rw-sb-row').length")
        count = page.evaluate("(document.querySelector('.rw-sb-count') || {}).textContent")
        raise SystemExit(
            f"{what} did not show within {timeout / 1000:.0f} s (sidebar: {count!r}, {rows} rows"
            f" in the page; screenshot: {FAILED_SCREENSHOT})"
        ) from None


def _stats(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"median": float("nan"), "p95": float("nan"), "max": float("nan"), "n": 0}
    ordered = sorted(values)
    p95 = statistics.quantiles(ordered, n=20, method="inclusive")[-1] if len(ordered) > 1 else 0
    return {"median": statistics.median(ordered), "p95": p95, "max": ordered[-1],
            "n": len(ordered)}  # fmt: skip


def measure_mode(context: Any, server: Any, probe: bool, changes: int, wall: float,
                 screenshot: bool) -> dict[str, Any]:  # fmt: skip
    """One page, one kernel: widget freshness, the idle kernel, sidebar freshness."""
    env = {**os.environ, "RUNWIDGET_STORE": server.store_uri}
    rng = random.Random(SEED)
    values = [1 / (1 + 0.1 * i) + 0.05 * rng.random() for i in range(PRE_POINTS + changes)]
    out: dict[str, Any] = {}
    label = "on" if probe else "off"
    writer = _Process(
        WIDGET_WRITER, [values[:PRE_POINTS], values[PRE_POINTS:], SEED + probe, *GAP_S], env
    )
    sidebar_writer = None
    page = context.new_page()
    try:
        if not probe:  # the page's event-bus socket opens but never hears anything
            page.route_web_socket(re.compile(r".*/api/events/subscribe.*"), lambda ws: None)
        run_id = writer.read()["run_id"]
        name = f"freshness-{label}.ipynb"
        server.write_notebook(name, SHOW.format(probe=probe, run_id=run_id))
        server.open_notebook(page, name)
        page.evaluate("() => window.jupyterapp.shell.activateById('runwidget-runs')")
        server.run_all(page)
        _wait(page, f"() => window.__rwFresh && window.__rwFresh.drawn >= {PRE_POINTS}",
              "the widget's loss chart", timeout=120_000)  # fmt: skip
        text = page.locator(".jp-OutputArea-output", has_text="KERNEL_PID").inner_text()
        pid = int(text.split()[1])

        # 1. Widget freshness.
        writer.say()
        times = writer.read()["times"]
        last = PRE_POINTS + len(times)
        with contextlib.suppress(PlaywrightTimeout):  # what is not drawn is counted missed
            page.wait_for_function(f"() => window.__rwFresh.drawn >= {last}", timeout=30_000)
        drawn = page.evaluate("window.__rwFresh.points")
        lags, flushes = [], []
        for j, (logged, flushed) in enumerate(times):
            at = drawn.get(str(PRE_POINTS + j + 1))
            flushes.append(flushed - logged)
            if at is not None:
                lags.append(at - logged)
        out["widget"] = _stats(lags)
        out["widget"]["missed"] = len(times) - len(lags)
        out["widget_lags"] = lags
        out["flush_median_s"] = statistics.median(flushes)

        # 2. The kernel while its widget polls the idle run (its writer lives on, idle).
        time.sleep(3)
        before = _kernel_counts(server)
        cpu0, w0 = _cpu_seconds(pid), time.monotonic()
        time.sleep(wall)
        cpu = _cpu_seconds(pid) - cpu0
        elapsed = time.monotonic() - w0
        after = _kernel_counts(server)
        ticks = after["ticks"] - before["ticks"]
        out["idle"] = {
            "cpu_percent": 100 * cpu / elapsed,
            "seconds": elapsed,
            "ticks": ticks,
            "reads": after["reads"] - before["reads"],
            "bytes_sent": after["bytes_sent"] - before["bytes_sent"],
            "comm_msgs": after["comm_msgs"] - before["comm_msgs"],
            "comm_bytes": after["comm_bytes"] - before["comm_bytes"],
        }
        out["idle"]["bytes_per_poll"] = out["idle"]["comm_bytes"] / max(ticks, 1)

        # 3. Sidebar freshness (shown again: a late layout restore may have hidden it).
        page.evaluate("() => window.jupyterapp.shell.activateById('runwidget-runs')")
        page.wait_for_selector("#runwidget-runs .rw-sb-list", state="visible")
        sidebar_writer = _Process(
            SIDEBAR_WRITER,
            [f"sidebar {label}", SIDEBAR_RUNS, STATUSES, changes, SEED + 2 + probe, *GAP_S],
            env,
        )
        ids = sidebar_writer.read()["run_ids"]
        shown = " && ".join(f"'{i}|NotStarted' in window.__rwFresh.statuses" for i in ids)
        _wait(page, f"() => {shown}", f"the sidebar rows of {SIDEBAR_RUNS} new runs")
        sidebar_writer.say()
        changed = sidebar_writer.read()["times"]
        wanted = " && ".join(f"'{r}|{s}' in window.__rwFresh.statuses" for r, s, _, _ in changed)
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(f"() => {wanted}", timeout=30_000)
        statuses = page.evaluate("window.__rwFresh.statuses")
        lags = [statuses[f"{r}|{s}"] - t for r, s, t, _ in changed if f"{r}|{s}" in statuses]
        out["sidebar"] = _stats(lags)
        out["sidebar"]["missed"] = len(changed) - len(lags)
        out["sidebar_lags"] = lags
        if screenshot:
            page.locator(".rw-chart[data-chart='m:loss']").first.scroll_into_view_if_needed()
            page.screenshot(path=SCREENSHOT)
    finally:
        if sidebar_writer is not None:
            sidebar_writer.end()
        writer.end()
        server.delete_sessions()
        page.close()
    return out


def measure_in_browser(changes: int, wall: float) -> dict[str, dict[str, Any]]:
    import pytest  # the UI harness is written as pytest fixtures; its helpers work alone
    from playwright.sync_api import sync_playwright

    from tests.ui import conftest as ui

    server = ui._start_jupyter("lab")
    results: dict[str, dict[str, Any]] = {}
    try:
        profile = tempfile.mkdtemp(prefix="runwidget-bench-chromium-")
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=ui.CHROMIUM, headless=True, args=ui.CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
            )  # fmt: skip
            context.add_init_script(MARKS)
            for probe in (True, False):
                results["on" if probe else "off"] = measure_mode(
                    context, server, probe, changes, wall, screenshot=probe
                )
            context.close()
    except pytest.fail.Exception as e:  # the harness reports set-up problems this way
        raise SystemExit(f"browser benchmark could not start: {e}") from None
    finally:
        server.delete_sessions()
        ui._stop(server)
    return results


# -- trackio ----------------------------------------------------------------------------------
TRACKIO = """
import json, sys, time, tempfile, os
os.environ["TRACKIO_DIR"] = tempfile.mkdtemp(prefix="runwidget-bench-trackio-")
from trackio import server
from trackio.sqlite_storage import SQLiteStorage
values, polls = json.loads(sys.argv[1])
SQLiteStorage.bulk_log("freshness", "freshness run", [{"loss": v} for v in values],
                       steps=list(range(len(values))))
runs = [{"run": "freshness run"}]
server.get_logs_batch("freshness", runs, scalar_only=True)  # warm
spent, sizes = [], []
for _ in range(polls):
    t0 = time.perf_counter()
    answer = server.get_logs_batch("freshness", runs, scalar_only=True)
    body = json.dumps(answer, default=str)  # what the page is sent, as JSON
    spent.append(time.perf_counter() - t0)
    sizes.append(len(body))
import trackio
print(json.dumps({"version": trackio.__version__, "spent": spent, "sizes": sizes}))
"""


def _trackio_python(given: str | None) -> str | None:
    candidates = [given] if given else [sys.executable]
    for python in candidates:
        probe = subprocess.run(
            [python, "-c", "import trackio"], capture_output=True, timeout=120, check=False
        )
        if probe.returncode == 0:
            return python
    return None


def measure_trackio(python: str, points: int, polls: int) -> dict[str, Any]:
    """trackio's metrics page polls every second (locally) and re-reads each selected run's
    whole history (``get_logs_batch``, at most 3,000 points a run): the cost of one such
    poll for a run of the same points, on the server side, JSON included."""
    rng = random.Random(SEED)
    values = [1 / (1 + 0.1 * i) + 0.05 * rng.random() for i in range(points)]
    done = subprocess.run(
        [python, "-c", TRACKIO, json.dumps([values, polls])],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    spent = answer["spent"]
    return {
        "version": answer["version"],
        "poll_ms_median": 1e3 * statistics.median(spent),
        "bytes_per_poll": statistics.median(answer["sizes"]),
        "cpu_percent_at_1_hz": 100 * statistics.median(spent),  # one poll a second
    }


# -- the table --------------------------------------------------------------------------------
def _ratio(off: float, on: float) -> str:
    return f"{off / on:7.1f}x" if on > 0 else "       -"


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def report(results: dict[str, dict[str, Any]], trackio: dict[str, Any] | str,
           changes: int) -> None:  # fmt: skip
    on, off = results["on"], results["off"]
    print()
    print(f"in JupyterLab (headless Chromium), {changes} changes each, another process writing")
    print(f"  {'':44s} {'probe on':>10s} {'probe off':>10s} {'off / on':>9s}   target")
    for key, what in (("widget", "widget: run.log -> point drawn"),
                      ("sidebar", "sidebar: status change -> row shows it")):  # fmt: skip
        a, b = on[key], off[key]
        print(f"  {what + ', median':44s} {a['median']:9.2f}s {b['median']:9.2f}s "
              f"{_ratio(b['median'], a['median'])}")  # fmt: skip
        print(f"  {what + ', p95':44s} {a['p95']:9.2f}s {b['p95']:9.2f}s "
              f"{_ratio(b['p95'], a['p95'])}   <= {TARGETS['p95_s']} s: "
              f"{_verdict(a['p95'] <= TARGETS['p95_s'])} (probe on)")  # fmt: skip
        print(f"  {'    slowest / missed':44s} {a['max']:9.2f}s {b['max']:9.2f}s"
              f"   missed {a['missed']} / {b['missed']}")  # fmt: skip
    print(f"  {'    (run.flush() in the writer, median)':44s} "
          f"{on['flush_median_s']:9.3f}s {off['flush_median_s']:9.3f}s")  # fmt: skip
    a, b = on["idle"], off["idle"]
    cpu_met = a["cpu_percent"] < TARGETS["idle_cpu_percent"]
    print(f"  {'kernel CPU, widget polling the idle run':44s} {a['cpu_percent']:9.3f}% "
          f"{b['cpu_percent']:9.3f}% {_ratio(b['cpu_percent'], a['cpu_percent'])}   "
          f"< {TARGETS['idle_cpu_percent']} %: {_verdict(cpu_met)} (probe on)")  # fmt: skip
    print(f"  {'bytes per idle poll (all comm messages)':44s} {a['bytes_per_poll']:9.0f}B "
          f"{b['bytes_per_poll']:9.0f}B {'':9s}   = 0 B: "
          f"{_verdict(a['bytes_per_poll'] == 0 and b['bytes_per_poll'] == 0)}")  # fmt: skip
    print(f"  {'    (widget.bytes_sent over the window)':44s} {a['bytes_sent']:9d}B "
          f"{b['bytes_sent']:9d}B")  # fmt: skip
    print(f"  {'polls / reads in the idle window':44s} {a['ticks']:4d} / {a['reads']:3d} "
          f"{b['ticks']:4d} / {b['reads']:3d}   ({a['seconds']:.0f} s)")  # fmt: skip
    print(f"  (screenshot, probe on: {SCREENSHOT})")
    print("trackio, the same run")
    if isinstance(trackio, str):
        print(f"  skipped: {trackio}")
    else:
        print(f"  trackio {trackio['version']}: its metrics page polls every 1 s and re-reads "
              f"the run's history")  # fmt: skip
        print(f"  {'one poll, server side':44s} {trackio['poll_ms_median']:9.2f} ms")
        print(f"  {'bytes per poll, idle run':44s} {trackio['bytes_per_poll']:9.0f} B   "
              f"(runwidget: {a['bytes_per_poll']:.0f} B)")  # fmt: skip
        print(f"  {'CPU at one poll a second':44s} {trackio['cpu_percent_at_1_hz']:9.3f} %")
    print(f"(load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 changes, a 20 s idle window")
    parser.add_argument("--trackio-python", help="a Python with trackio installed")
    args = parser.parse_args()
    changes, wall = (15, 20.0) if args.quick else (50, 60.0)

    results = measure_in_browser(changes, wall)
    python = _trackio_python(args.trackio_python)
    if python is None:
        trackio: dict[str, Any] | str = "trackio is not installed (--trackio-python PATH)"
    else:
        trackio = measure_trackio(python, PRE_POINTS + changes, polls=50)
    report(results, trackio, changes)
    for mode in ("on", "off"):
        for key in ("widget", "sidebar"):
            lags = sorted(results[mode][f"{key}_lags"])
            print(f"{key} lags, probe {mode} (s): " + " ".join(f"{v:.2f}" for v in lags))


if __name__ == "__main__":
    main()
