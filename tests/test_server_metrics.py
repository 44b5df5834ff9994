"""A metric's full series through a real Jupyter server: the CSV export and the zoom reads."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

# The Jupyter server of the REST suite, on both stores, with pytest-jupyter's fixtures.
from pytest_jupyter.jupyter_core import *  # noqa: F403
from pytest_jupyter.jupyter_server import *  # noqa: F403
from pytest_jupyter.pytest_tornasync import *  # noqa: F403
from tornado.httpclient import HTTPClientError

from runwidget import Experiment, Workspace
from runwidget.store import open_store
from runwidget.view.charts import ChartSet
from tests import test_server_api as _api

jp_asyncio_loop = _api.jp_asyncio_loop
fetch = _api.fetch
api_store = _api.api_store
jp_server_config = _api.jp_server_config
_forget_announcement = _api._forget_announcement
get = _api.get

N = 5000  # more than the chart's 2,000 points, and than one page of the store's reads


@pytest.fixture
def noisy(api_store: str) -> str:
    run = Experiment(Workspace(api_store), "csv").start_logging(display_name="noisy")
    rng = np.random.default_rng(1)
    for step in range(N):
        value = float(np.exp(-step / 1000) * (1 + 0.3 * rng.standard_normal()) + 0.01)
        run.log("loss", abs(value), step=step * 2)
    run.log("loss", math.nan, step=2 * N)
    run.log("loss", "diverged")
    run.log_list("fib", [0, 1, 1, 2, 3, 5])
    for i in range(3):
        run.log_row("system/cpu", x=i, y=i * i)  # a name with a slash
    run.log_table("curve", {"a": [1, 2], "b": [0.5, math.inf]})
    run.complete()
    return run.id


def _csv(fetch, run_id: str, name: str) -> list[list[str]]:
    response = fetch("runwidget", "api", "runs", run_id, "metrics", name + ".csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.body.decode())))


def test_csv_is_the_stores_series_not_the_charts(fetch, api_store, noisy) -> None:
    store = open_store(api_store)
    points = store.read_metrics(noisy, name="loss")
    rows = _csv(fetch, noisy, "loss")
    assert rows[0] == ["index", "step", "value", "time"]
    assert len(rows) - 1 == len(points) == N + 2
    for i, (row, p) in enumerate(zip(rows[1:], points, strict=True)):
        assert int(row[0]) == i
        assert (row[1] == "") if p.step is None else (float(row[1]) == p.step)
        assert float(row[3]) == p.time
        if isinstance(p.value, str):
            assert row[2] == p.value
        elif math.isnan(p.value):
            assert row[2] == "NaN"
        else:
            assert float(row[2]) == p.value  # exact: repr round-trips
    # The chart draws at most 2,000 of them.
    charts = ChartSet()
    charts.add(points)
    x, _ = charts.series_arrays("m:loss", "value")
    assert len(x) <= 2000 < N

    fib = _csv(fetch, noisy, "fib")
    assert [float(r[2]) for r in fib[1:]] == [0, 1, 1, 2, 3, 5]

    cpu = _csv(fetch, noisy, "system/cpu")
    assert cpu[0] == ["index", "time", "x", "y"]
    assert [[float(v) for v in r[2:]] for r in cpu[1:]] == [[0, 0], [1, 1], [2, 4]]
    curve = _csv(fetch, noisy, "curve")
    assert [[float(v) for v in r[2:]] for r in curve[1:]] == [[1, 0.5], [2, math.inf]]


def test_csv_of_an_unknown_metric_or_run_is_404(fetch, noisy) -> None:
    for run_id, name in ((noisy, "nope"), ("no-such-run", "loss")):
        with pytest.raises(HTTPClientError) as err:
            fetch("runwidget", "api", "runs", run_id, "metrics", f"{name}.csv")
        assert err.value.code == 404


def test_compare_csv_has_every_point_of_each_run(fetch, api_store, noisy) -> None:
    other = Experiment(Workspace(api_store), "csv").start_logging(display_name="<b>other</b>")
    for step in range(3):
        other.log("loss", 1.0 / (step + 1), step=step)
    other.complete()
    no_loss = Experiment(Workspace(api_store), "csv").start_logging()
    no_loss.log("lr", 0.1)
    no_loss.complete()
    runs = f"{noisy},{other.id},{no_loss.id}"
    response = fetch("runwidget", "api", "compare", "metrics", "loss.csv", params={"runs": runs})
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.body.decode())))
    assert rows[0] == ["run", "index", "step", "value", "time"]
    assert len(rows) - 1 == N + 2 + 3  # every point of both runs; the third has no loss
    assert [r[3] for r in rows if r[0] == other.id] == ["1.0", "0.5", "0.3333333333333333"]
    # The same on compare's chart: what each run offers, and the lines' ids.
    body = get(fetch, "compare", runs=runs)
    loss = next(c for c in body["charts"] if c["name"] == "loss")
    assert loss["controls"]["x_axes"] == ["data", "relative", "wall"]
    assert loss["controls"]["log_y"] is True  # every value drawn is above 0 (NaN is not drawn)
    assert [s["id"] for s in loss["series"]] == ["value", "value"]
    for params in ({"runs": f"{no_loss.id}"}, {"runs": "no-such-run"}):
        with pytest.raises(HTTPClientError) as err:
            fetch("runwidget", "api", "compare", "metrics", "loss.csv", params=params)
        assert err.value.code == 404
    with pytest.raises(HTTPClientError) as err:
        fetch("runwidget", "api", "compare", "metrics", "loss.csv")
    assert err.value.code == 400


def test_zoom_reads_the_range_at_full_resolution(fetch, noisy) -> None:
    whole = get(fetch, "runs", noisy, "series", metric="loss")
    (series,) = whole["series"]
    assert series["count"] == N and len(series["x"]) <= 2000
    # A range of 1,000 points comes back whole: every point, none downsampled.
    part = get(fetch, "runs", noisy, "series", metric="loss", **{"from": "2000", "to": "3998"})
    (zoomed,) = part["series"]
    assert zoomed["count"] == 1000 and zoomed["x"] == [float(s) for s in range(2000, 4000, 2)]
    # A wider range is downsampled again, keeping the range's true extremes.
    wide = get(fetch, "runs", noisy, "series", metric="loss", **{"from": "0", "to": "6000"})
    (w,) = wide["series"]
    rows = _csv(fetch, noisy, "loss")[1:]
    inside = [float(r[2]) for r in rows if r[1] and float(r[1]) <= 6000 and r[2] not in ("NaN",)]
    assert len(w["x"]) <= 2000 < len(inside)
    assert min(w["y"]) == min(inside) and max(w["y"]) == max(inside)
    # x as time: relative seconds from the run's start, or the wall clock.
    rel = get(fetch, "runs", noisy, "series", metric="loss", axis="relative")["series"][0]
    wall = get(fetch, "runs", noisy, "series", metric="loss", axis="wall")["series"][0]
    assert 0 <= rel["x"][0] < 60 and wall["x"][0] > 1.6e9
    with pytest.raises(HTTPClientError) as err:
        get(fetch, "runs", noisy, "series", metric="loss", axis="sideways")
    assert err.value.code == 400


def test_the_view_model_says_which_controls_a_chart_gets(fetch, noisy) -> None:
    view = get(fetch, "runs", noisy, "view")["snapshot"]
    charts = {c["name"]: c for c in view["charts"]}
    assert charts["loss"]["controls"] == {
        "log_y": True,
        "x_axes": ["data", "relative", "wall"],
        "csv": True,
    }
    assert charts["fib"]["controls"]["log_y"] is False  # a 0
    assert charts["fib"]["controls"]["x_axes"] == ["data"]  # logged at once
    assert charts["curve"]["controls"]["x_axes"] == ["data"]  # x is a column
