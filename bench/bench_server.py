"""Benchmark of the kernel-free surfaces on a store of 10,000 runs.

Measures, against a real JupyterLab server with runwidget's extension:

* one page of the runs API (target: at most 50 ms), warm and on the server's first request
  (which reads every run into the index), with filters, paging deep, search and metrics;
* a poll for the runs changed since the cursor when nothing changed;
* the Runs sidebar's first draw in headless Chromium (target: at most 500 ms), and a jump to
  the middle of the virtual list.

Run: ``.venv/bin/python bench/bench_server.py [--runs 10000]``. Needs chromium (see
scripts/setup.sh). Prints the figures; exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runwidget import status as st  # noqa: E402
from runwidget.store import Batch, SqlStore  # noqa: E402
from tests.ui import conftest as ui  # noqa: E402  (starts JupyterLab as the browser tests do)

PAGE_TARGET_MS = 50.0
DRAW_TARGET_MS = 500.0


def make_store(uri: str, runs: int) -> None:
    """``runs`` top-level runs over 20 experiments, a tenth of them still running; each
    logged 20 points of one metric."""
    store = SqlStore(uri)
    now = time.time()
    ids = []
    for i in range(runs):
        status = st.RUNNING if i % 10 == 0 else st.COMPLETED
        record = store.create_run(
            f"experiment-{i % 20:02d}",
            display_name=f"run {i:05d} lr={0.001 * (1 + i % 7):.3f}",
            status=status,
            started=now - (runs - i) * 5,
            tags={"seed": i % 5},
        )
        if status == st.COMPLETED:
            store.update_run(record.id, ended=now - (runs - i) * 5 + 3)
        ids.append(record.id)
    for start in range(0, runs, 500):
        batches = {
            rid: Batch(
                metrics=[("loss", "scalar", float(s), 1.0 / (s + 1), now) for s in range(20)]
            )
            for rid in ids[start : start + 500]
        }
        store.write(batches)
    store.close()


def get(url: str, token: str, path: str) -> tuple[float, dict]:
    request = urllib.request.Request(url + path, headers={"Authorization": f"token {token}"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
    elapsed = (time.perf_counter() - start) * 1000
    return elapsed, json.loads(body)


def timed(url: str, token: str, path: str, repeat: int = 30) -> tuple[float, float]:
    times = sorted(get(url, token, path)[0] for _ in range(repeat))
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def sidebar_draws(url: str, token: str, loads: int = 3) -> tuple[list[float], list[float], int]:
    from playwright.sync_api import sync_playwright

    first, jump = [], []
    rows_in_dom = 0
    profile = tempfile.mkdtemp(prefix="runwidget-bench-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=ui.CHROMIUM, headless=True,
                args=ui.CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000},
            )  # fmt: skip
            page = context.new_page()
            for _ in range(loads):
                page.goto(f"{url}/lab?reset&token={token}")
                page.wait_for_function("() => window.jupyterapp && window.jupyterapp.runwidget")
                page.evaluate("() => window.jupyterapp.restored")
                first.append(
                    page.evaluate(
                        """async () => {
                            const t0 = performance.now();
                            window.jupyterapp.shell.activateById('runwidget-runs');
                            await new Promise((done) => {
                                const check = () => document.querySelector('.rw-sb-row')
                                    ? done() : requestAnimationFrame(check);
                                check();
                            });
                            return performance.now() - t0;
                        }"""
                    )
                )
                rows_in_dom = page.locator(".rw-sb-row").count()
                jump.append(
                    page.evaluate(
                        """async () => {
                            const list = document.querySelector('.rw-sb-list');
                            const target = Math.floor(list.scrollHeight / 2);
                            const t0 = performance.now();
                            list.scrollTop = target;
                            const wanted = Math.floor(target / 50);
                            await new Promise((done) => {
                                const check = () => {
                                    const rows = [...document.querySelectorAll('.rw-sb-row')];
                                    const y = (r) => new DOMMatrix(
                                        getComputedStyle(r).transform).m42 / 50;
                                    rows.some((r) => Math.abs(y(r) - wanted) < 2)
                                        ? done() : requestAnimationFrame(check);
                                };
                                check();
                            });
                            return performance.now() - t0;
                        }"""
                    )
                )
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return first, jump, rows_in_dom


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--no-browser", action="store_true", help="skip the sidebar figures")
    args = parser.parse_args()
    import pytest  # the UI harness is written as pytest fixtures; its helpers work alone

    try:
        server = ui._start_jupyter("lab")
    except pytest.fail.Exception as e:  # the harness reports set-up problems this way
        raise SystemExit(f"jupyter lab could not start: {e}") from None
    url, token = server.url, server.token
    failed = False
    try:
        # The server reads the store at its first request to the runs API, which comes after.
        start = time.perf_counter()
        make_store(server.store_uri, args.runs)
        print(f"store: {args.runs} runs with 20 points each, made in "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip
        cold, answer = get(url, token, "/runwidget/api/runs?parent=none&limit=100")
        assert answer["total"] == args.runs, answer["total"]
        print(f"first request at start-up (index of {args.runs} runs loading): {cold:.1f} ms")
        cases = {
            "page 1 (100 runs, newest first)": "runs?parent=none&limit=100",
            "page 50 (offset 4900)": "runs?parent=none&limit=100&offset=4900",
            "active runs only": "runs?parent=none&status=active&limit=100",
            "one experiment": "runs?parent=none&experiment=experiment-07&limit=100",
            "search 'lr=0.003'": "runs?parent=none&q=lr%3D0.003&limit=100",
            "page 1 + primary metric (warm)": "runs?parent=none&limit=100&stats=primary",
            "poll: changed since cursor": f"runs?parent=none&since={answer['cursor']}",
        }
        get(url, token, "/runwidget/api/" + cases["page 1 + primary metric (warm)"])
        print(f"{'runs API (median / p95 of 30 requests)':48s}   median      p95")
        for name, path in cases.items():
            median, p95 = timed(url, token, "/runwidget/api/" + path)
            mark = "" if median <= PAGE_TARGET_MS else "   over target"
            failed |= median > PAGE_TARGET_MS
            print(f"  {name:46s} {median:7.1f} ms {p95:7.1f} ms{mark}")
        if not args.no_browser:
            first, jump, rows = sidebar_draws(url, token)
            print(f"sidebar first draw, {len(first)} page loads:   "
                  + ", ".join(f"{t:.0f} ms" for t in first)
                  + f" (target {DRAW_TARGET_MS:.0f} ms)")  # fmt: skip
            print("sidebar jump to the middle of the list:   "
                  + ", ".join(f"{t:.0f} ms" for t in jump))  # fmt: skip
            print(f"rows in the DOM for {args.runs} runs: {rows} (virtual list)")
            failed |= max(first) > DRAW_TARGET_MS
    finally:
        ui._stop(server)
        shutil.rmtree(server.log_path.parent, ignore_errors=True)
    print("targets met" if not failed else "a target was missed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
