"""Runs on a real Ray cluster, in a real browser: the Runs sidebar follows a run on the "ray"
target from Queued to Completed, and the portal's Compute page lists that target."""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runwidget import ComputeTarget, Experiment, RayCompute, ScriptRunConfig, Workspace
from runwidget import status as st
from tests.ray_cluster import RayCluster, running_ray_cluster
from tests.ui.test_kernelfree import open_sidebar, row

pytestmark = [pytest.mark.ui, pytest.mark.ray, pytest.mark.slow]

# Holds a CPU of the cluster until it is canceled.
HOLD = """
import time
print("holding a CPU", flush=True)
while True:
    time.sleep(0.2)
"""
# Waits for the test's go file, then logs a loss curve.
TRAIN = """
import math, os, sys, time
from runwidget import Run

run = Run.get_context()
go = sys.argv[1]
deadline = time.time() + 180
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.2)
for step in range(20):
    run.log("loss", math.exp(-step / 6), step=step)
    print(f"step {step}", flush=True)
    time.sleep(0.05)
"""
# The sidebar polls every 10 s; a Ray job takes a few seconds to start on 2 shared cores.
SIDEBAR_TIMEOUT = 60_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    with running_ray_cluster() as c:
        yield c


def _wait(run, statuses: set[str], timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = run.get_status()
        if status in statuses:
            return status
        time.sleep(0.3)
    raise AssertionError(f"run {run.id} stayed {run.get_status()}, wanted {sorted(statuses)}")


def test_sidebar_and_compute_page_follow_a_run_on_ray(
    jupyter_server, page: Page, screenshot, cluster: RayCluster, tmp_path: Path
) -> None:
    server = jupyter_server("lab")
    ws = Workspace(server.store_uri)
    # Each run holds one of the cluster's 2 CPUs, so Ray queues a third.
    ComputeTarget.attach(
        ws, "ray", RayCompute.attach_configuration(address=cluster.address, entrypoint_num_cpus=1)
    )
    src = tmp_path / "src"
    src.mkdir()
    (src / "hold.py").write_text(textwrap.dedent(HOLD))
    (src / "train.py").write_text(textwrap.dedent(TRAIN))
    go = tmp_path / "go"
    experiment = Experiment(ws, "on ray")

    holders = [
        experiment.submit(ScriptRunConfig(src, "hold.py", compute_target="ray")) for _ in range(2)
    ]
    try:
        for holder in holders:
            _wait(holder, {st.RUNNING})
        config = ScriptRunConfig(src, "train.py", arguments=[str(go)], compute_target="ray")
        run = experiment.submit(config)
        time.sleep(3)  # Ray has had time to start it, had a CPU been free
        assert run.get_status() == st.QUEUED

        open_sidebar(server, page)
        ray_row = row(page, run.id)
        expect(ray_row).to_have_attribute("data-status", st.QUEUED)
        expect(ray_row).to_have_attribute("data-target", "ray")
        target = ray_row.locator(".rw-sb-target")
        expect(target).to_be_visible()
        expect(target).to_have_text("ray")
        expect(target).to_have_attribute("title", "Compute target: ray")
        screenshot(page, "lab-sidebar-ray-queued")

        # A CPU frees up: Ray starts the run, which waits for the go file.
        holders[0].cancel()
        expect(ray_row).to_have_attribute("data-status", st.RUNNING, timeout=SIDEBAR_TIMEOUT)
        expect(row(page, holders[0].id)).to_have_attribute(
            "data-status", st.CANCELED, timeout=SIDEBAR_TIMEOUT
        )
        go.touch()
        expect(ray_row).to_have_attribute("data-status", st.COMPLETED, timeout=SIDEBAR_TIMEOUT)
        expect(ray_row.locator(".rw-sb-metric")).to_have_text(re.compile(r"^loss 0\.0"))
        expect(target).to_have_text("ray")
        page.mouse.move(0, 0)  # a hovered row shows its buttons in place of the target
        screenshot(page, "lab-sidebar-ray")
    finally:
        for holder in holders:
            if holder.get_status() not in st.TERMINAL:
                holder.cancel()
    for holder in holders:
        assert _wait(holder, set(st.TERMINAL), timeout=30) == st.CANCELED
    assert run.get_details()["target"] == "ray"

    # The portal's Compute page: the target answers, with its runs' counts. The store may
    # still read the last canceled run Running for a moment (Ray knew first): read it again.
    compute = f"{server.url}/runwidget/compute?token={server.token}"
    page.goto(compute)
    targets = page.locator(".rw-targets")
    expect(targets.locator("thead")).to_contain_text("Target")
    headers = [t.strip() for t in targets.locator("thead th").all_inner_texts()]
    assert headers[:4] == ["Target", "Kind", "Address", "State"]
    assert headers[4:7] == ["Queued", "Running", "Ended"]
    ray = targets.locator("tbody tr", has=page.locator("a.rw-target-name", has_text="ray"))
    expect(ray).to_have_count(1)
    cells = ray.locator("td")
    expect(cells.nth(1)).to_have_text("ray")
    expect(cells.nth(2)).to_have_text(cluster.address)
    expect(cells.nth(3)).to_have_text("reachable")
    expect(ray.locator(".rw-target-ok")).to_be_visible()
    deadline = time.monotonic() + 30
    while (counts := [cells.nth(i).inner_text().strip() for i in (4, 5, 6)]) != ["0", "0", "3"]:
        assert time.monotonic() < deadline, f"queued, running, ended: {counts}"
        time.sleep(1)
        page.goto(compute)
    screenshot(page, "portal-compute-ray")

    # Its link leads to the runs on that target only.
    ray.locator("a.rw-target-name").click()
    expect(page).to_have_url(re.compile(r"/runwidget/runs\?target=ray"))
    expect(page.locator("h1")).to_have_text("Runs on ray")
    runs = page.locator(".rw-runs")
    expect(runs.locator("tbody tr")).to_have_count(3)
    expect(runs.locator("tbody a.rw-run-target")).to_have_text(["ray"] * 3)
    expect(runs.locator("tbody")).to_contain_text(st.COMPLETED)
    screenshot(page, "portal-runs-on-ray")
