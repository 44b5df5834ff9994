"""A submitted script's own verdict (``run.complete()``, ``fail()``, ``cancel()``) is left for
its supervisor, which ends the run once the script has exited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runwidget import Experiment, Workspace
from runwidget import status as st
from runwidget.tracking.context import ENV_VERDICT_FILE, SubmittedRun


@pytest.mark.parametrize(
    ("end", "status", "error"),
    [
        (lambda run: run.complete(), st.COMPLETED, None),
        (lambda run: run.fail("the data was bad"), st.FAILED,
         {"message": "the data was bad", "traceback": None}),
        (lambda run: run.cancel(), st.CANCELED, None),
    ],
)  # fmt: skip
def test_the_verdict_is_written_for_the_supervisor_and_the_run_goes_on(
    sqlite_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, end, status, error
) -> None:
    workspace = Workspace(sqlite_uri)
    own = Experiment(workspace, "verdicts").start_logging()
    verdict = tmp_path / "verdict.json"
    monkeypatch.setenv(ENV_VERDICT_FILE, str(verdict))
    run = SubmittedRun.get(workspace, own.id)
    run.log("seen", 1)
    end(run)
    assert json.loads(verdict.read_text()) == {"status": status, "error": error}
    # Still running: the supervisor ends it when the script exits.
    assert workspace.store.get_run(own.id).status == st.RUNNING
    assert run.get_metrics() == {"seen": 1}
    monkeypatch.delenv(ENV_VERDICT_FILE)
    own.complete()
