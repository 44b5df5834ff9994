"""Training never waits on, or dies because of, the store."""

from __future__ import annotations

import logging
import time

import pytest

from runwidget import Experiment, RunwidgetWarning, Workspace
from runwidget.errors import StoreUnavailableError
from runwidget.tracking import _flusher


class FlakyStore:
    """Wraps a real store; ``down`` makes writes fail as an unreachable server would."""

    def __init__(self, store):
        self._store = store
        self.down = False
        self.uri = store.uri

    def write(self, batches):
        if self.down:
            raise StoreUnavailableError("run store is unreachable: connection refused")
        return self._store.write(batches)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_points_logged_during_an_outage_are_written_later(sqlite_uri, caplog):
    workspace = Workspace(sqlite_uri)
    run = Experiment(workspace, "outage").start_logging()
    flaky = FlakyStore(workspace.store)
    flusher = _flusher.Flusher(flaky, interval=0.05)
    run._flusher = flusher
    flaky.down = True
    with pytest.warns(RunwidgetWarning, match="cannot reach the run store"):
        for i in range(1000):
            run.log("x", float(i))
        assert not run.flush(timeout=0.3)
        # The writer thread warns at its first failed attempt; on a busy machine it may come
        # after the flush gave up.
        deadline = time.monotonic() + 10
        while flusher._failing_since is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert flusher.pending() == 1000
    flaky.down = False
    with caplog.at_level(logging.WARNING, logger="runwidget"):
        assert run.flush(timeout=10)
    assert any("again" in r.message for r in caplog.records)
    assert run.get_metrics()["x"] == [float(i) for i in range(1000)]
    flusher.close()


def test_full_buffer_drops_new_points_with_one_warning(sqlite_uri, monkeypatch):
    monkeypatch.setenv("RUNWIDGET_MAX_BUFFERED", "100")
    workspace = Workspace(sqlite_uri)
    run = Experiment(workspace, "full").start_logging()
    flaky = FlakyStore(workspace.store)
    flusher = _flusher.Flusher(flaky, interval=60)
    run._flusher = flusher
    flaky.down = True
    with pytest.warns(RunwidgetWarning, match="buffer is full") as warned:
        for i in range(150):
            run.log("x", float(i))
    assert sum("buffer is full" in str(w.message) for w in warned) == 1
    flaky.down = False
    assert flusher.flush(timeout=5)
    assert run.get_metrics()["x"] == [float(i) for i in range(100)]
    flusher.close()
