"""``MlflowSource``: an MLflow run, read through ``MlflowClient`` while it is written.

Reads are incremental. A poll first reads the run (one call) to learn each metric's latest
step and time; only metrics that moved are read, by step range from the last step seen,
sampled on the server (MLflow's ``get_metric_history_bulk_interval``). Metrics logged
without a step (MLflow then uses step 0) are paged by offset instead. Children are read
once, then only new children and children that were still active. Cursors (``seq``) are
numbered by the source itself, so one source serves one reader.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runwidget import _settings
from runwidget import status as st
from runwidget.errors import RunNotFoundError, StoreUnavailableError
from runwidget.sources.base import RunSource
from runwidget.store.records import FileInfo, LogLine, MetricKind, MetricPoint, RunRecord

MLFLOW_STATUS = {
    "RUNNING": st.RUNNING,
    "SCHEDULED": st.QUEUED,
    "FINISHED": st.COMPLETED,
    "FAILED": st.FAILED,
    "KILLED": st.CANCELED,
}
# A RUNNING MLflow run whose data has not changed for this long reads as NotResponding:
# runs of crashed jobs stay RUNNING forever in MLflow.
MAX_POINTS = 2000  # per metric and read: the server samples down to this many
_PAGE = 1000
_TEXT_SUFFIXES = {".txt", ".log", ".out", ".err"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"}
_PARENT_TAG = "mlflow.parentRunId"
_INTERVAL_ENDPOINT = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"


def require_mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise ImportError(
            "showing MLflow runs needs MLflow: pip install runwidget[mlflow]"
        ) from None
    return mlflow


@dataclass
class _MetricSeen:
    last_step: int
    last_time: int  # ms, as MLflow stores it
    count: int


class MlflowSource(RunSource):
    """One MLflow run (and, through ``child``, its nested runs at any depth).

    Args:
        run_id: the MLflow run id.
        tracking_uri: where the run is (default: MLflow's current tracking URI).
        client: an ``MlflowClient`` to reuse (children share their parent's).

    Raises:
        ImportError: MLflow is not installed.
        RunNotFoundError: no run ``run_id`` at that tracking URI.
        StoreUnavailableError: the tracking server cannot be reached.
    """

    def __init__(self, run_id: str, tracking_uri: str | None = None, *, client: Any = None) -> None:
        mlflow = require_mlflow()
        from mlflow.tracking import MlflowClient

        self._client = client or MlflowClient(tracking_uri)
        self._uri = str(tracking_uri or self._client.tracking_uri or mlflow.get_tracking_uri())
        self._run_id = run_id
        self._experiments: dict[str, str] = {}
        self._seq = 0
        self._metrics_seen: dict[str, _MetricSeen] = {}
        self._pending: deque[MetricPoint] = deque()
        self._children: dict[str, Any] = {}  # child id -> its latest mlflow Run
        self._child_marks: dict[str, tuple[Any, ...]] = {}
        self._child_seqs: dict[str, int] = {}
        self._newest_child_start = -1
        self._search: dict[str, Any] | None = None
        self._experiment_id_list: list[str] = []
        self._files: dict[str, int] = {}  # artifact path -> bytes already read (logs)
        self._images: dict[str, FileInfo] = {}
        self._run = self._get(run_id)

    # -- MLflow calls, with runwidget's errors -------------------------------------------
    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args, **kwargs)
        except MlflowException as e:
            if getattr(e, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                raise RunNotFoundError(
                    f"MLflow run {self._run_id!r} not found at {self._uri}"
                ) from e
            raise StoreUnavailableError(f"MLflow at {self._uri}: {what} failed: {e}") from e
        except OSError as e:  # connection refused, DNS, timeouts from requests
            raise StoreUnavailableError(f"MLflow at {self._uri} is unreachable: {e}") from e

    def _get(self, run_id: str) -> Any:
        return self._call("get_run", self._client.get_run, run_id)

    def _experiment_name(self, experiment_id: str) -> str:
        name = self._experiments.get(experiment_id)
        if name is None:
            experiment = self._call("get_experiment", self._client.get_experiment, experiment_id)
            name = self._experiments[experiment_id] = experiment.name
        return name

    # -- the run --------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def tracking_uri(self) -> str:
        return self._uri

    def record(self) -> RunRecord:
        self._run = self._get(self._run_id)
        if self._search is None:
            self._search = self._recognise_search()
        properties = dict(self._run.data.params)
        run_type = "interactive"
        if self._search:
            run_type = self._search["type"]
            properties.update(primary_metric=self._search["metric"], goal=self._search["goal"])
        elif self._run.data.tags.get(_PARENT_TAG):
            run_type = "child"
        if not self._uri.startswith(("http://", "https://")):
            properties["mlflow ui"] = f"mlflow ui --backend-store-uri {self._uri}"
        return self._to_record(self._run, run_type, properties)

    def _to_record(
        self, run: Any, run_type: str, properties: dict[str, Any], number: int = 1, seq: int = 0
    ) -> RunRecord:
        info, data = run.info, run.data
        status = MLFLOW_STATUS.get(info.status, st.RUNNING)
        started = (info.start_time or 0) / 1000
        stamps = [m.timestamp for m in _metric_objects(data)]
        last_change = max([*stamps, info.start_time or 0]) / 1000
        error = None
        if status == st.RUNNING and time.time() - last_change > _settings.mlflow_stale_after():
            status = st.NOT_RESPONDING
            minutes = (time.time() - last_change) / 60
            error = {
                "message": f"MLflow says RUNNING, but nothing changed for {minutes:.0f} minutes: "
                "the process may have crashed",
                "traceback": None,
            }
        return RunRecord(
            id=info.run_id,
            experiment=self._experiment_name(info.experiment_id),
            parent_id=data.tags.get(_PARENT_TAG),
            number=number,
            display_name=info.run_name or info.run_id,
            run_type=run_type,
            status=status,
            created=started,
            started=started,
            ended=info.end_time / 1000 if info.end_time else None,
            heartbeat=None,
            properties=properties,
            tags={k: v for k, v in data.tags.items() if not k.startswith("mlflow.")},
            error=error,
            target=data.tags.get("mlflow.source.name", "mlflow"),
            arguments=[],
            seq=seq,
        )

    def portal_url(self) -> str | None:
        if not self._uri.startswith(("http://", "https://")):
            return None  # no UI to link to; record() says how to start one
        info = self._run.info
        return f"{self._uri.rstrip('/')}/#/experiments/{info.experiment_id}/runs/{info.run_id}"

    # -- metrics --------------------------------------------------------------------------
    def metrics(self, since: int = 0, limit: int | None = None) -> list[MetricPoint]:
        if since == 0:
            self._metrics_seen.clear()
            self._pending.clear()
        latest = _metric_objects(self._get(self._run_id).data)
        for metric in latest:
            seen = self._metrics_seen.get(metric.key)
            if seen is None:
                new = self._sampled(metric.key, None, None)
            elif metric.step > seen.last_step:
                new = self._sampled(metric.key, seen.last_step + 1, metric.step)
            elif metric.timestamp > seen.last_time:
                new = self._after_offset(metric.key, seen)
            else:
                continue
            self._remember(metric.key, seen, new)
        out: list[MetricPoint] = []
        while self._pending and (limit is None or len(out) < limit):
            out.append(self._pending.popleft())
        return out

    def _remember(self, key: str, seen: _MetricSeen | None, new: list[Any]) -> None:
        if not new:
            return
        count = (seen.count if seen else 0) + len(new)
        last = max(new, key=lambda m: (m.step, m.timestamp))
        self._metrics_seen[key] = _MetricSeen(last.step, last.timestamp, count)
        for m in sorted(new, key=lambda m: (m.step, m.timestamp)):
            self._seq += 1
            self._pending.append(
                MetricPoint(
                    self._seq, key, MetricKind.SCALAR, float(m.step), m.value, m.timestamp / 1000
                )
            )

    def _store(self) -> Any:
        # MLflow's client keeps its store (whose paged reads we use) only here.
        return self._client._tracking_client.store  # noqa: SLF001

    def _sampled(self, key: str, start: int | None, end: int | None) -> list[Any]:
        """Up to MAX_POINTS points of ``key`` in steps [start, end], sampled by MLflow."""
        store = self._store()
        if hasattr(store, "get_host_creds"):  # a tracking server over HTTP
            from mlflow.entities import Metric
            from mlflow.utils.rest_utils import http_request

            params: dict[str, Any] = {
                "run_ids": [self._run_id], "metric_key": key, "max_results": MAX_POINTS,
            }  # fmt: skip
            if start is not None:
                params.update(start_step=start, end_step=end)
            response = self._call(
                "get-history-bulk-interval",
                http_request,
                store.get_host_creds(),
                _INTERVAL_ENDPOINT,
                "GET",
                params=params,
            )
            if response.status_code != 200:
                raise StoreUnavailableError(
                    f"MLflow at {self._uri}: metric history failed ({response.status_code})"
                )
            return [
                Metric(m["key"], float(m.get("value", "nan")), int(m["timestamp"]), int(m["step"]))
                for m in response.json().get("metrics", [])
            ]
        found = self._call(
            "get_metric_history_bulk_interval",
            store.get_metric_history_bulk_interval,
            [self._run_id],
            key,
            MAX_POINTS,
            start,
            end,
        )
        return [m.metric if hasattr(m, "metric") else m for m in found]

    def _after_offset(self, key: str, seen: _MetricSeen) -> list[Any]:
        """Points past the first ``seen.count`` of ``key`` (for metrics without steps)."""
        from mlflow.utils.search_utils import SearchUtils

        store = self._store()
        # mlflow leaves this function unannotated.
        token = SearchUtils.create_page_token(seen.count)  # type: ignore[no-untyped-call]
        new: list[Any] = []
        try:
            while True:
                page = store.get_metric_history(self._run_id, key, _PAGE, token)
                new.extend(page)
                token = getattr(page, "token", None)
                if not token:
                    return new
        except TypeError:
            # A store without paging: read it all, keep what is new.
            history = self._call("get_metric_history", self._client.get_metric_history,
                                 self._run_id, key)  # fmt: skip
            return list(history[seen.count :])

    # -- children -------------------------------------------------------------------------
    def _experiment_ids(self, refresh: bool) -> list[str]:
        """Every experiment's id: nested runs may live in another experiment than their
        parent (Optuna's MLflow callback puts trials in an experiment named after the study)."""
        if refresh or not self._experiment_id_list:
            found = self._call("search_experiments", self._client.search_experiments)
            self._experiment_id_list = [e.experiment_id for e in found] or [
                self._run.info.experiment_id
            ]
        return self._experiment_id_list

    def _search_children(
        self, extra: str = "", max_results: int = _PAGE, refresh: bool = False
    ) -> list[Any]:
        query = f"tags.`{_PARENT_TAG}` = '{self._run_id}'" + extra
        found: list[Any] = []
        token = None
        while True:
            page = self._call(
                "search_runs",
                self._client.search_runs,
                self._experiment_ids(refresh),
                filter_string=query,
                max_results=max_results,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
            found.extend(page)
            token = page.token
            if not token or len(found) >= max_results:
                return found

    def children(self, since: int = 0) -> list[RunRecord]:
        if since == 0 or not self._children:
            fresh = self._search_children(refresh=True)
        else:
            active = [
                cid
                for cid, r in self._children.items()
                if r.info.status in ("RUNNING", "SCHEDULED")
            ]
            fresh = self._search_children(
                f" and attributes.start_time > {self._newest_child_start}"
            )
            for first in range(0, len(active), 100):
                ids = ", ".join(f"'{cid}'" for cid in active[first : first + 100])
                fresh += self._search_children(f" and attributes.run_id IN ({ids})")
        for run in fresh:
            cid = run.info.run_id
            self._children[cid] = run
            self._newest_child_start = max(self._newest_child_start, run.info.start_time or 0)
            mark = _mark(run)
            if self._child_marks.get(cid) != mark:
                self._child_marks[cid] = mark
                self._seq += 1
                self._child_seqs[cid] = self._seq
        ordered = sorted(
            self._children.values(), key=lambda r: (r.info.start_time or 0, r.info.run_id)
        )
        numbers = {r.info.run_id: i + 1 for i, r in enumerate(ordered)}
        return [
            self._child_record(run, numbers[run.info.run_id])
            for run in ordered
            if self._child_seqs[run.info.run_id] > since
        ]

    def _child_record(self, run: Any, number: int) -> RunRecord:
        properties: dict[str, Any] = dict(run.data.params)
        search = self._search or {}
        if search:
            properties.update(search["iteration_properties"](run, number))
        kind = "child"
        return self._to_record(run, kind, properties, number, self._child_seqs[run.info.run_id])

    def child_metrics(self, run_id: str, since: int = 0) -> list[MetricPoint]:
        """A child's latest value of each metric (what tables and iterations show)."""
        run = self._children.get(run_id) or self._get(run_id)
        seq = self._child_seqs.get(run_id, 0)
        if seq <= since:
            return []
        return [
            MetricPoint(seq, m.key, MetricKind.SCALAR, float(m.step), m.value, m.timestamp / 1000)
            for m in _metric_objects(run.data)
        ]

    def child(self, run_id: str) -> MlflowSource:
        child = MlflowSource(run_id, self._uri, client=self._client)
        if child._run.data.tags.get(_PARENT_TAG) != self._run_id:
            raise RunNotFoundError(f"MLflow run {self._run_id!r} has no child run {run_id!r}")
        return child

    # -- recognising searches -------------------------------------------------------------
    def _recognise_search(self) -> dict[str, Any] | None:
        """Optuna's MLflow callback, FLAML and scikit-learn autolog searches, by their
        children's tags, params and metrics. None until children appear (checked again)."""
        sample = self._search_children(max_results=5, refresh=True)
        if not sample:
            return None
        return recognise_search(sample)

    # -- logs and images: from the run's artifacts ---------------------------------------
    def _artifacts(self, path: str | None = None, depth: int = 2) -> list[Any]:
        found = []
        for item in self._call("list_artifacts", self._client.list_artifacts, self._run_id, path):
            if item.is_dir:
                if depth > 1:
                    found += self._artifacts(item.path, depth - 1)
            else:
                found.append(item)
        return found

    def _download(self, path: str) -> bytes:
        with tempfile.TemporaryDirectory() as tmp, _no_progress_bars():
            local = self._call(
                "download_artifacts", self._client.download_artifacts, self._run_id, path, tmp
            )
            return Path(local).read_bytes()

    def logs(self, since: int = 0, limit: int | None = None) -> list[LogLine]:
        """Lines added to the run's text artifacts (``*.txt``, ``*.log``), by file."""
        if since == 0:
            self._files.clear()
        lines: list[LogLine] = []
        for item in self._artifacts():
            if Path(item.path).suffix.lower() not in _TEXT_SUFFIXES:
                continue
            done = self._files.get(item.path, 0)
            if (item.file_size or 0) <= done:
                continue
            data = self._download(item.path)
            self._files[item.path] = len(data)
            now = time.time()
            for text in data[done:].decode("utf-8", errors="replace").splitlines():
                self._seq += 1
                lines.append(LogLine(self._seq, item.path, text, now))
        return lines[:limit] if limit is not None else lines

    def images(self, since: int = 0) -> list[FileInfo]:
        for item in self._artifacts():
            suffix = Path(item.path).suffix.lower()
            if suffix in _IMAGE_SUFFIXES and item.path not in self._images:
                self._seq += 1
                self._images[item.path] = FileInfo(
                    seq=self._seq,
                    path=item.path,
                    kind="image",
                    size=item.file_size or 0,
                    content_type="image/svg+xml" if suffix == ".svg" else f"image/{suffix[1:]}",
                    time=time.time(),
                    name=Path(item.path).stem,
                )
        return [f for f in self._images.values() if f.seq > since]

    def image_bytes(self, image: FileInfo) -> bytes:
        return self._download(image.path)

    def __repr__(self) -> str:
        return f"MlflowSource({self._run_id!r}, {self._uri!r})"


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """MLflow draws a progress bar per download; from a poller they would flood the cell."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _mark(run: Any) -> tuple[Any, ...]:
    """What, when changed, makes a child row worth sending again."""
    metrics = tuple(sorted((m.key, m.step, m.timestamp) for m in _metric_objects(run.data)))
    return (run.info.status, run.info.end_time, metrics, len(run.data.params))


def recognise_search(children: list[Any]) -> dict[str, Any] | None:
    """The search a set of sibling MLflow runs came from, or None.

    Returns ``type`` (sweep or automl), the primary ``metric``, its ``goal`` and a function
    giving each child's iteration properties.
    """
    first = children[0]
    tags, params = first.data.tags, first.data.params
    metrics = [m.key for m in _metric_objects(first.data)]
    if "number" in tags and "direction" in tags:  # Optuna's MLflowCallback
        direction = str(tags["direction"]).strip("[]'\" ").split(",")[0].strip("'\" ")
        return {
            "type": "sweep",
            "metric": metrics[0] if metrics else "value",
            "goal": "minimize" if direction.upper() == "MINIMIZE" else "maximize",
            "iteration_properties": lambda run, n: {
                "iteration": _int(run.data.tags.get("number"), n - 1)
            },
        }
    if "learner" in params:  # FLAML AutoML
        primary = next(
            (m for m in metrics if m in ("validation_loss", "val_loss", "best_validation_loss")),
            metrics[0] if metrics else "validation_loss",
        )
        return {
            "type": "automl",
            "metric": primary,
            "goal": "minimize",
            "iteration_properties": lambda run, n: {
                "iteration": _int(run.data.tags.get("flaml.iteration_number"), n - 1),
                "algorithm": run.data.params.get("learner", ""),
            },
        }
    if "mean_test_score" in metrics:  # scikit-learn autolog of a parameter search
        return {
            "type": "sweep",
            "metric": "mean_test_score",
            "goal": "maximize",
            "iteration_properties": lambda run, n: {"iteration": n - 1},
        }
    return None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _metric_objects(data: Any) -> list[Any]:
    """The ``Metric`` objects (with timestamps and steps) of a run's data: MLflow's public
    ``data.metrics`` keeps only the last value of each."""
    found: list[Any] = data._metric_objs  # noqa: SLF001
    return found
