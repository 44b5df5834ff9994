"""What a saved notebook keeps of a ``RunDetails`` output so that, reopened without the kernel
that drew it, JupyterLab draws the run again from the server.

The widget's output carries, next to the widget view and its static summary, a small bundle
of type ``application/vnd.runwidget.run+json``: the run's id, its store as the Jupyter
server names it (the ``store`` of ``GET /runwidget/api/status``: the URI, any password
masked), and its display name. runwidget's JupyterLab extension renders it (js/lab/reopen.js):
the live widget while the kernel that made it is there; else the run as it is now, read
through the server's REST API and drawn by the run panel's own code (live while the run
runs); else, when the server serves another store or does not know the run, the summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runwidget.sources.store import StoreSource
from runwidget.store import redact_uri

RUN_MIME = "application/vnd.runwidget.run+json"
RUNS_MIME = "application/vnd.runwidget.runs+json"
# Bumped when the bundle changes in a way an older front end would misread.
BUNDLE_VERSION = 1


def run_reference(view: Any) -> dict[str, Any]:
    """``{RUN_MIME: {...}}`` naming the run a ``RunView`` shows, for a run of runwidget's
    store; ``{}`` for other sources (MLflow, Optuna), which no Jupyter server serves.

    Args:
        view: the ``runwidget.view.RunView`` whose run the output shows.
    """
    source = view.source
    if not isinstance(source, StoreSource):
        return {}
    header = view.snapshot(with_series=False)["header"]
    return {
        RUN_MIME: {
            "version": BUNDLE_VERSION,
            "run_id": source.run_id,
            "store": redact_uri(source.store.uri),
            "name": header.get("display_name") or source.run_id,
        }
    }


def runs_reference(sources: Sequence[Any], runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``{RUNS_MIME: {...}}`` naming the runs a comparison shows, when they are all runs of
    one runwidget store; ``{}`` otherwise (no single Jupyter server serves them).

    Args:
        sources: the comparison's run sources, in the order shown.
        runs: its snapshot's ``runs`` (``id`` and ``name`` of each), in the same order.
    """
    if not sources or not all(isinstance(s, StoreSource) for s in sources):
        return {}
    stores = {redact_uri(s.store.uri) for s in sources}
    if len(stores) != 1:
        return {}
    return {
        RUNS_MIME: {
            "version": BUNDLE_VERSION,
            "store": stores.pop(),
            "runs": [
                {"run_id": s.run_id, "name": r.get("name") or s.run_id}
                for s, r in zip(sources, runs, strict=True)
            ],
        }
    }
