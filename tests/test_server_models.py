"""Registered models and rich metrics on the kernel-free surfaces, through a real Jupyter
server with runwidget's extension (the standalone portal's are in tests/test_v1_models.py):
the models endpoint, a model's download, the Models page, a run's view with its plots."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

# pytest-jupyter's fixtures, for this module only (see tests/test_server_api.py).
from pytest_jupyter.jupyter_core import *  # noqa: F403
from pytest_jupyter.jupyter_server import *  # noqa: F403
from pytest_jupyter.pytest_tornasync import *  # noqa: F403
from tornado.httpclient import HTTPClientError

from runwidget import Experiment, Workspace
from runwidget.server.app import PAGE_POLICY
from tests import test_server_api as _api

jp_asyncio_loop = _api.jp_asyncio_loop
jp_server_config = _api.jp_server_config
_forget_announcement = _api._forget_announcement
api_store = _api.api_store
fetch = _api.fetch
get = _api.get

EVIL = _api.EVIL


@pytest.fixture
def registered(api_store: str) -> str:
    """A run with a confusion matrix, a file model and a folder model; its id."""
    run = Experiment(Workspace(api_store), "models").start_logging(outputs=False)
    run.upload_file("outputs/model.pkl", io.BytesIO(b"pickled"))
    run.upload_file("outputs/net/config.json", io.BytesIO(b"{}"))
    run.upload_file("outputs/net/weights.bin", io.BytesIO(b"\x00"))
    labels = [EVIL, "b"]
    matrix = {"schema_type": "confusion_matrix", "data": {"class_labels": labels,
              "matrix": [[3, 1], [0, 4]]}}  # fmt: skip
    run.log_confusion_matrix("cm", matrix)
    run.complete()
    run.register_model("pickled", "outputs/model.pkl", description=EVIL)
    run.register_model("pickled", "outputs/model.pkl", tags={"stage": "prod"})
    run.register_model("net", "outputs/net")
    return run.id


def test_models_are_listed_newest_first_with_their_files(fetch, registered) -> None:
    body = get(fetch, "models")
    assert [m["id"] for m in body["models"]] == ["net:1", "pickled:2", "pickled:1"]
    assert body["total"] == 3 and body["names"] == 2
    net = body["models"][0]
    assert net["run_id"] == registered and net["experiment"] == "models"
    files = [f["path"] for f in net["files"]]
    assert files == ["outputs/net/config.json", "outputs/net/weights.bin"]
    assert body["models"][2]["description"] == EVIL  # as written; the page draws it as text
    assert [m["version"] for m in get(fetch, "models", name="pickled")["models"]] == [2, 1]
    assert get(fetch, "models", name="unknown")["models"] == []


def test_a_model_downloads_as_its_file_or_a_zip_of_its_folder(fetch, registered) -> None:
    one = fetch("runwidget", "api", "models", "pickled", "2", "download")
    assert one.body == b"pickled" and "attachment" in one.headers["Content-Disposition"]
    folder = fetch("runwidget", "api", "models", "net", "1", "download")
    assert sorted(zipfile.ZipFile(io.BytesIO(folder.body)).namelist()) == [
        "net/config.json",
        "net/weights.bin",
    ]
    with pytest.raises(HTTPClientError) as missing:
        fetch("runwidget", "api", "models", "pickled", "9", "download")
    assert missing.value.code == 404
    assert "no version 9" in json.loads(missing.value.response.body)["error"]


def test_the_models_page(fetch, registered) -> None:
    response = fetch("runwidget", "models", params={"name": EVIL})
    assert response.code == 200
    assert response.headers["Content-Security-Policy"].startswith(PAGE_POLICY)
    html = response.body.decode()
    assert '"page":"models"' in html and "<img" not in html


def test_a_runs_view_carries_its_plots(fetch, registered) -> None:
    view = get(fetch, "runs", registered, "view")
    snapshot = view.get("snapshot", view)
    (plot,) = snapshot["plots"]
    assert plot["kind"] == "heatmap" and plot["labels"] == [EVIL, "b"]
    assert plot["shade"] == [[0.75, 0.25], [0.0, 1.0]]
    # This server's portal serves the store: its link needs no hint.
    assert "portal_note" not in snapshot["header"]
