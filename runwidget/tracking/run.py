"""Run: one training run, with the logging and reading methods of the reference SDK."""

from __future__ import annotations

import builtins
import copy
import dataclasses
import io
import logging
import mimetypes
import os
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from runwidget import _settings
from runwidget import status as st
from runwidget.errors import (
    InvalidValueError,
    RunFailedError,
    RunFinishedError,
    RunNotFoundError,
    RunwidgetWarning,
    StoreError,
)
from runwidget.store import MetricKind, NewFile, RunRecord, RunStore, RunType, rich
from runwidget.tracking import _portal, alerts
from runwidget.tracking._flusher import flusher_for
from runwidget.tracking._metrics import metrics_dict, metrics_rows
from runwidget.tracking._validate import (
    check_name,
    check_path,
    check_text,
    clean_text,
    to_cell,
    to_metric_value,
    to_number,
    to_step,
)
from runwidget.tracking.model import Model, check_model_name, framework_properties, model_files
from runwidget.tracking.providers import PROVIDERS
from runwidget.tracking.snapshot import SNAPSHOT_PATH, take_snapshot
from runwidget.tracking.system_metrics import SystemMetricsThread
from runwidget.tracking.waiting import wait_for_completion
from runwidget.tracking.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

    from runwidget.tracking.experiment import Experiment

logger = logging.getLogger("runwidget")

# How long complete()/fail() wait for the store before leaving the rest to the writer thread.
END_FLUSH_TIMEOUT = 10.0
# How long a read waits for this process's own points to be written before reading the store.
READ_FLUSH_TIMEOUT = 2.0
_NOT_ENDED = tuple(s for s in st.ALL if s not in st.TERMINAL)
_IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"}
# Properties runwidget keeps for itself: the process that owns a run, a script's supervisor.
_INTERNAL = "runwidget."
_DESCRIPTION = "runwidget.description"
# Where take_snapshot stores its zips.
_SNAPSHOTS = "snapshots/"
# The name of a run's output log in get_details_with_logs and get_all_logs.
LOG_FILE = "user_logs/std_log.txt"
_SEARCH_TYPES = frozenset({RunType.AUTOML, RunType.SWEEP})
_INF = float("inf")


class Run:
    """A run in an experiment.

    Get one from ``experiment.start_logging()``, ``experiment.submit(...)``,
    ``Run(experiment, run_id)``, ``Run.get(workspace, run_id)`` or, inside a submitted
    script, ``Run.get_context()``.

    Logging methods (``log``, ``log_list``, ``log_row``, ``log_table``, ``log_image``) return
    at once: points are buffered and written by a background thread within about a second.

    Raises:
        RunNotFoundError: no run ``run_id`` in the experiment's store.
    """

    def __init__(
        self, experiment: Experiment, run_id: str, *, _record: RunRecord | None = None
    ) -> None:
        from runwidget.tracking.experiment import Experiment

        if not isinstance(experiment, Experiment):
            raise InvalidValueError(
                f"Run takes an Experiment first, got {type(experiment).__name__}: {experiment!r}"
            )
        self.experiment = experiment
        self._store = experiment.workspace.store
        record = _record or self._store.get_run(check_name(run_id, "run id"))
        if record.experiment != experiment.name:
            raise RunNotFoundError(
                f"run {run_id!r} belongs to experiment {record.experiment!r}, "
                f"not {experiment.name!r}"
            )
        self._record = record
        self.id = record.id
        self._flusher = flusher_for(self._store)
        self._ended = record.status in st.TERMINAL
        self._ended_as = record.status
        self._lock = threading.Lock()
        self._image_count = 0
        self._rich_count = 0
        self._not_finite: set[str] = set()  # metrics alerted as NaN or infinite
        self._system_metrics: Any = None  # start_logging(system_metrics=True)'s sampler
        self._uploaded: set[str] | None = None
        # The folder whose files are stored with the run when it ends (start_logging's).
        self._outputs: tuple[Path, str] | None = None

    # -- creating and finding ------------------------------------------------------------
    @classmethod
    def create(
        cls,
        experiment: Experiment,
        *,
        display_name: str | None = None,
        run_type: str = RunType.INTERACTIVE,
        status: str = st.RUNNING,
        parent_id: str | None = None,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        target: str = "local",
        arguments: list[Any] | None = None,
    ) -> Run:
        now = time.time()
        properties = _check_mapping(properties, "properties")
        if status == st.RUNNING:
            # This process beats the run: the reaper fails it if the process dies first.
            properties = {**PROVIDERS.owner_properties(run_type), **properties}
        record = experiment.workspace.store.create_run(
            experiment.name,
            run_id=run_id,
            parent_id=parent_id,
            display_name=display_name,
            run_type=run_type,
            status=status,
            started=now if status == st.RUNNING else None,
            tags=_check_mapping(tags, "tags"),
            properties=properties,
            target=target,
            arguments=arguments,
        )
        run = cls(experiment, record.id, _record=record)
        if status == st.RUNNING:
            run._flusher.set_alive(run.id, True)
        return run

    @classmethod
    def get(cls, workspace: Workspace, run_id: str) -> Run:
        """The run ``run_id`` of any experiment in ``workspace``.

        Raises:
            RunNotFoundError: no such run.
        """
        from runwidget.tracking.experiment import Experiment

        if not isinstance(workspace, Workspace):
            raise InvalidValueError(
                f"Run.get takes a Workspace first, got {type(workspace).__name__}"
            )
        record = workspace.store.get_run(check_name(run_id, "run id"))
        return cls(Experiment(workspace, record.experiment), record.id, _record=record)

    @classmethod
    def get_context(cls) -> Run:
        """Inside a submitted script: its run. Elsewhere: an offline run that logs nowhere."""
        from runwidget.tracking.context import get_context

        return get_context()

    # -- attributes ----------------------------------------------------------------------
    @property
    def number(self) -> int:
        return self._record.number

    @property
    def display_name(self) -> str:
        return self._record.display_name

    @display_name.setter
    def display_name(self, value: str) -> None:
        value = check_name(value, "display_name")
        self._flusher.update_run(self.id, display_name=value)
        self._flusher.flush(END_FLUSH_TIMEOUT)
        self._record = dataclasses.replace(self._record, display_name=value)

    @property
    def name(self) -> str:
        """The run's display name (the reference SDK's ``run.name``)."""
        return self._record.display_name

    @property
    def description(self) -> str | None:
        """A free text about the run, settable; kept in its ``runwidget.description``
        property (shown as ``get_details()["description"]``), so it may change."""
        self._flusher.flush(READ_FLUSH_TIMEOUT)
        return self.refresh().properties.get(_DESCRIPTION)

    @description.setter
    def description(self, value: str | None) -> None:
        if value is not None:
            if not isinstance(value, str):
                raise InvalidValueError(
                    f"description must be a string or None, got {_type_name(value)}: {value!r:.80}"
                )
            check_text(value, "description")
        self._flusher.update_run(self.id, properties={_DESCRIPTION: value})
        self._flusher.flush(END_FLUSH_TIMEOUT)

    @property
    def properties(self) -> dict[str, Any]:
        """As ``get_properties()``."""
        return self.get_properties()

    @property
    def tags(self) -> dict[str, Any]:
        """As ``get_tags()``."""
        return self.get_tags()

    @property
    def type(self) -> str:
        return self._record.run_type

    @property
    def status(self) -> str:
        return self.get_status()

    @property
    def parent(self) -> Run | None:
        if self._record.parent_id is None:
            return None
        return Run(self.experiment, self._record.parent_id)

    @property
    def store(self) -> RunStore:
        """The store this run lives in."""
        return self._store

    @property
    def record(self) -> RunRecord:
        """The run's record as last read (``refresh()`` reads it again)."""
        return self._record

    @property
    def ended(self) -> bool:
        """Whether the run has ended, as this object knows it (it accepts no more data)."""
        return self._ended

    def refresh(self) -> RunRecord:
        """Re-read the run from the store."""
        self._record = self._store.get_run(self.id)
        return self._record

    # -- logging -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._ended:
            raise RunFinishedError(
                f"run {self.id!r} has ended ({self._ended_as}) and accepts no more data; "
                "start a new run with experiment.start_logging()"
            )

    def log(self, name: str, value: Any, description: str = "", step: Any = None) -> None:
        """Log a number or a string. Repeated calls make a series (x = ``step``, or the
        call's index when ``step`` is None); a single call is a property."""
        if self._ended:
            self._check_open()
        name = check_name(name, "metric name")
        value = to_metric_value(value, name)
        if value.__class__ is float and not -_INF < value < _INF:
            self._alert_not_finite(name, value)
        step = None if step is None else to_step(step)
        self._flusher.add_metric(self.id, (name, MetricKind.SCALAR, step, value, time.time()))

    def _alert_not_finite(self, name: str, value: float) -> None:
        if name in self._not_finite:
            return
        self._not_finite.add(name)
        alerts.metric_not_finite(self._store, self.id, name, value)

    # -- alerts --------------------------------------------------------------------------
    def alert(self, title: str, text: str = "", level: str = "warn") -> None:
        """Raise an alert: stored with the run, shown in its views and the JupyterLab
        sidebar, and POSTed to ``$RUNWIDGET_ALERT_WEBHOOK`` when set. Returns at once (a
        background thread stores and sends it).

        Args:
            title: a short line.
            text: more, if needed.
            level: ``"info"``, ``"warn"`` or ``"error"``.

        Raises:
            InvalidValueError: an empty title, a text that is not a string, another level.
        """
        title, text, level = alerts.check_alert(title, text, level)
        alerts.default_sender().send(
            self._store, self.id, kind="user", level=level, title=title, text=text
        )

    def get_alerts(self) -> list[dict[str, Any]]:
        """The run's alerts, oldest first: dicts of ``title``, ``text``, ``level``, ``kind``
        (``user``, ``failed``, ``not_responding``, ``nan``) and ``time``."""
        # The run's own writer first: an alert waits for the run to be in the store.
        self._flusher.flush(END_FLUSH_TIMEOUT)
        alerts.flush(END_FLUSH_TIMEOUT, webhook=False, store=self._store)
        return [a.as_dict() for a in self._store.read_alerts(self.id)]

    def start_system_metrics(self, interval: float) -> None:
        """Sample this process's CPU, memory and I/O every ``interval`` seconds into the
        run's ``system/`` metrics until it ends (``start_logging(system_metrics=...)``)."""
        flusher, run_id = self._flusher, self.id
        self._system_metrics = SystemMetricsThread(
            lambda rows: flusher.add_metrics(run_id, rows), os.getpid(), interval
        ).start()

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        """Log a list of numbers, drawn as one line (x = the index)."""
        self._check_open()
        name = check_name(name, "metric name")
        if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
            raise InvalidValueError(
                f"run.log_list({name!r}, ...) takes a list of numbers, got "
                f"{type(value).__name__}: {value!r:.80}"
            )
        now = time.time()
        rows = [
            (name, MetricKind.LIST, float(i), to_number(v, f"{name}[{i}]"), now)
            for i, v in enumerate(value)
        ]
        self._flusher.add_metrics(self.id, rows)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Log one row of named columns; repeated rows draw a line of two variables
        (x = the first column)."""
        self._check_open()
        name = check_name(name, "metric name")
        if not kwargs:
            raise InvalidValueError(f"run.log_row({name!r}) needs at least one column=value")
        row = {
            check_name(col, "column name"): to_cell(v, f"column {col!r} of row {name!r}")
            for col, v in kwargs.items()
        }
        self._flusher.add_metric(self.id, (name, MetricKind.ROW, None, row, time.time()))

    def log_table(self, name: str, value: Mapping[str, Any], description: str = "") -> None:
        """Log a table ``{column: values}`` with columns of equal length; drawn as a line
        of two variables (x = the first column)."""
        self._check_open()
        name = check_name(name, "metric name")
        if not isinstance(value, Mapping) or not value:
            raise InvalidValueError(
                f"run.log_table({name!r}, value) takes a non-empty dict of column name to "
                f"list of values, got {type(value).__name__}: {value!r:.80}"
            )
        columns = {}
        for column, values in value.items():
            check_name(column, "column name")
            if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
                raise InvalidValueError(
                    f"column {column!r} of table {name!r} must be a list of values, got "
                    f"{type(values).__name__}: {values!r:.80}"
                )
            columns[column] = list(values)
        lengths = {c: len(v) for c, v in columns.items()}
        if len(set(lengths.values())) > 1:
            raise InvalidValueError(
                f"columns of table {name!r} must have equal lengths, got {lengths}"
            )
        now = time.time()
        names = list(columns)
        rows = []
        for i in range(next(iter(lengths.values()))):
            cells = {
                c: to_cell(columns[c][i], f"table {name!r} column {c!r} row {i}") for c in names
            }
            rows.append((name, MetricKind.TABLE, float(i), cells, now))
        self._flusher.add_metrics(self.id, rows)

    def log_image(
        self,
        name: str,
        path: str | os.PathLike[str] | None = None,
        plot: Any = None,
        description: str = "",
    ) -> None:
        """Log an image file (``path``) or a matplotlib figure (``plot``) into the gallery."""
        self._check_open()
        name = check_name(name, "image name")
        if (path is None) == (plot is None):
            raise InvalidValueError(
                f"run.log_image({name!r}, ...) takes exactly one of path= or plot="
            )
        if plot is not None:
            if not hasattr(plot, "savefig"):
                raise InvalidValueError(
                    f"plot must be a matplotlib Figure (or pyplot), got {type(plot).__name__}"
                )
            buffer = io.BytesIO()
            plot.savefig(buffer, format="png", bbox_inches="tight")
            data, suffix = buffer.getvalue(), ".png"
        else:
            assert path is not None  # exactly one of path and plot, checked above
            suffix = Path(path).suffix.lower()
            if suffix not in _IMAGE_TYPES:
                raise InvalidValueError(
                    f"image {str(path)!r} must be one of {sorted(_IMAGE_TYPES)}"
                )
            data = _read_bytes(path, f"image {name!r}")
        with self._lock:
            self._image_count += 1
            count = self._image_count
        file = NewFile(
            path=f"images/{name}/{count:05d}_{uuid.uuid4().hex[:6]}{suffix}",
            data=data,
            kind="image",
            content_type=mimetypes.guess_type(f"x{suffix}")[0] or "application/octet-stream",
            name=name,
            step=float(count - 1),
            time=time.time(),
        )
        self._flusher.add_file(self.id, file)

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        """Log a confusion matrix, drawn as a heat map with its class labels: the reference
        SDK's ``{"schema_type": "confusion_matrix", "schema_version": "1.0.0", "data":
        {"class_labels": [...], "matrix": [[...], ...]}}`` (a dict or its JSON text; rows
        are the true classes). See ``runwidget.store.rich`` for the four shapes.

        Raises:
            InvalidValueError: the value is not of that shape.
        """
        self._log_rich(rich.CONFUSION_MATRIX, "log_confusion_matrix", name, value)

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        """Log an accuracy table (``[TP, FP, TN, FN]`` per class and threshold), drawn as
        ROC and precision-recall curves.

        Raises:
            InvalidValueError: the value is not of the reference SDK's shape.
        """
        self._log_rich(rich.ACCURACY_TABLE, "log_accuracy_table", name, value)

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        """Log binned predictions (edges, counts, average prediction and its error per bin),
        drawn as a histogram.

        Raises:
            InvalidValueError: the value is not of the reference SDK's shape.
        """
        self._log_rich(rich.PREDICTIONS, "log_predictions", name, value)

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        """Log a histogram of residuals (bin edges and counts).

        Raises:
            InvalidValueError: the value is not of the reference SDK's shape.
        """
        self._log_rich(rich.RESIDUALS, "log_residuals", name, value)

    def _log_rich(self, schema_type: str, method: str, name: str, value: Any) -> None:
        self._check_open()
        name = check_name(name, "metric name")
        checked = rich.check_value(value, schema_type, f"run.{method}({name!r}, value)")
        with self._lock:
            self._rich_count += 1
            number = self._rich_count
        file = rich.rich_file(name, checked, number, time.time())
        limit = _settings.max_file_bytes()
        if len(file.data) > limit:
            raise InvalidValueError(
                f"run.{method}({name!r}, value) is {len(file.data)} bytes as JSON; the limit "
                f"is {limit} (set RUNWIDGET_MAX_FILE_BYTES to raise it)"
            )
        self._flusher.add_file(self.id, file)

    # -- tags, properties, files ---------------------------------------------------------
    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: "" if value is None else value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._flusher.update_run(self.id, tags=_check_mapping(tags, "tags"))
        self._flusher.flush(END_FLUSH_TIMEOUT)

    def get_tags(self) -> dict[str, Any]:
        self._flusher.flush(READ_FLUSH_TIMEOUT)
        return dict(self.refresh().tags)

    def remove_tags(self, tags: str | Sequence[str]) -> dict[str, Any]:
        """Remove the tags named in ``tags`` (a list of names, or one name); a name the run
        does not have is skipped. Returns the tags left."""
        names = [tags] if isinstance(tags, str) else tags
        if isinstance(names, Mapping) or not isinstance(names, (list, tuple, set, frozenset)):
            raise InvalidValueError(
                f"remove_tags takes a list of tag names, got {_type_name(tags)}: {tags!r:.80}"
            )
        names = [check_name(n, "tag name") for n in names]
        self.flush()
        self._store.update_run(self.id, remove_tags=names)
        return dict(self.refresh().tags)

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Add properties. As in the reference SDK they cannot change once set: setting
        one again to the same value is fine, to another value raises.

        Raises:
            InvalidValueError: a property is already set to another value.
        """
        properties = _check_mapping(properties, "properties")
        if self._record.run_type not in _SEARCH_TYPES:
            # The parents of AutoML searches and sweeps carry their progress (the best
            # child so far) in properties that runwidget updates as the search goes.
            self._flusher.flush(READ_FLUSH_TIMEOUT)
            stored = self.refresh().properties
            for key, value in properties.items():
                if key in stored and stored[key] != value:
                    raise InvalidValueError(
                        f"property {key!r} of run {self.id!r} is already {stored[key]!r} and "
                        f"properties cannot change once set; cannot set it to {value!r} "
                        "(use a tag, run.tag(name, value), for a value that changes)"
                    )
        self._flusher.update_run(self.id, properties=properties)
        self._flusher.flush(END_FLUSH_TIMEOUT)

    def get_properties(self) -> dict[str, Any]:
        """The run's properties, without runwidget's own ``runwidget.*`` bookkeeping (the
        process that owns the run, its working folder; ``refresh().properties`` has it)."""
        self._flusher.flush(READ_FLUSH_TIMEOUT)
        return _user_properties(self.refresh().properties)

    def upload_file(self, name: str, path_or_stream: str | os.PathLike[str] | IO[bytes]) -> None:
        """Store a file with the run under ``name`` (e.g. ``outputs/model.pkl``)."""
        name = _check_file_name(name)
        if hasattr(path_or_stream, "read"):
            data = path_or_stream.read()
            if isinstance(data, str):
                data = data.encode("utf-8")
        else:
            data = _read_bytes(path_or_stream, f"file {name!r}")
        self._add_file(name, data, kind="output")

    def upload_folder(self, name: str, path: str | os.PathLike[str]) -> None:
        """Store every file under ``path`` as ``<name>/<relative path>``."""
        name = _check_file_name(name)
        root = Path(path)
        if not root.is_dir():
            raise InvalidValueError(f"upload_folder: {str(path)!r} is not a directory")
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            self.upload_file(f"{name}/{file.relative_to(root).as_posix()}", file)

    def _add_file(self, name: str, data: bytes, kind: str) -> None:
        limit = _settings.max_file_bytes()
        if len(data) > limit:
            raise InvalidValueError(
                f"file {name!r} is {len(data)} bytes; the limit is {limit} "
                "(set RUNWIDGET_MAX_FILE_BYTES to raise it)"
            )
        with self._lock:
            if self._uploaded is None:
                self._uploaded = {f.path for f in self._store.list_files(self.id)}
            if name in self._uploaded:
                raise InvalidValueError(f"run {self.id!r} already has a file named {name!r}")
            self._uploaded.add(name)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self._flusher.add_file(
            self.id, NewFile(name, data, kind=kind, content_type=content_type, time=time.time())
        )

    def upload_outputs(self, folder: Path, name: str = "outputs") -> list[str]:
        """Store every file under ``folder`` as ``<name>/<relative path>``, as the
        reference SDK did for ``./outputs``; a name the run already has (the script
        uploaded it itself) is left as it is. Returns what could not be stored, and why."""
        if not folder.is_dir():
            return []
        self._flusher.flush(READ_FLUSH_TIMEOUT)
        stored = {f.path for f in self._store.list_files(self.id)}
        skipped = []
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            path = f"{name}/{file.relative_to(folder).as_posix()}"
            if path in stored or (self._uploaded is not None and path in self._uploaded):
                continue
            try:
                self.upload_file(path, file)
            except (InvalidValueError, OSError) as e:
                skipped.append(f"{path}: {e}")
        return skipped

    def track_outputs(self, folder: Path | None, name: str = "outputs") -> None:
        """Store the files of ``folder`` as ``<name>/...`` with the run when it ends
        (``start_logging``'s ``outputs``, see ``outputs_folder``). None tracks no folder."""
        self._outputs = None if folder is None else (folder, name)

    def store_snapshot(self, data: bytes) -> None:
        """Store ``data`` (a zip of the source folder) as the run's snapshot."""
        self._add_file(SNAPSHOT_PATH, data, kind="snapshot")

    def get_file_names(self) -> list[str]:
        """The run's files: outputs, uploads and images (snapshots have their own methods,
        rich metrics are read with ``get_metrics``)."""
        self.flush()
        hidden = ("snapshot", rich.RICH_KIND)
        return [f.path for f in self._store.list_files(self.id) if f.kind not in hidden]

    def download_file(
        self, name: str, output_file_path: str | os.PathLike[str] | None = None
    ) -> Path:
        """Write the stored file ``name`` to ``output_file_path`` (default: its base name)."""
        self.flush()
        data = self._store.read_file(self.id, name)
        target = Path(output_file_path or Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        target.write_bytes(data)
        return target

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | os.PathLike[str] | None = None,
        output_paths: Sequence[str | os.PathLike[str]] | None = None,
        batch_size: int = 100,
        append_prefix: bool = True,
        timeout_seconds: float | None = None,
    ) -> list[str]:
        """Write the run's files whose names start with ``prefix`` (``outputs``; default:
        every file of ``get_file_names()``) under ``output_directory`` (default: the current
        folder) with their names as paths, without the prefix when ``append_prefix`` is
        False; or to ``output_paths``, one per file in ``get_file_names()`` order. As the
        reference SDK's; ``batch_size`` and ``timeout_seconds`` tune its transfers and are
        not needed here.

        Returns:
            The paths written (none when no file starts with ``prefix``).

        Raises:
            InvalidValueError: an argument of the wrong type, or ``output_paths`` not one
                per file.
        """
        if prefix is not None and not isinstance(prefix, str):
            raise InvalidValueError(
                f"download_files: prefix must be a string or None, got {_type_name(prefix)}: "
                f"{prefix!r:.80}"
            )
        root = (
            check_path(output_directory, "download_files: output_directory", optional=True)
            if output_directory is not None
            else Path.cwd()
        )
        names = [n for n in self.get_file_names() if n.startswith(prefix or "")]
        if output_paths is not None:
            if isinstance(output_paths, (str, os.PathLike)) or len(output_paths) != len(names):
                raise InvalidValueError(
                    f"download_files: output_paths must be a list of one path per file, "
                    f"{len(names)} here ({names[:5]}...), got {output_paths!r:.80}"
                )
            targets = [check_path(t, "download_files: each of output_paths") for t in output_paths]
        else:
            relative = [n if append_prefix else n[len(prefix or "") :].lstrip("/") for n in names]
            targets = [root.joinpath(*r.split("/")) for r in relative]
        for name, target in zip(names, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._store.read_file(self.id, name))
        return [str(t) for t in targets]

    # -- models --------------------------------------------------------------------------
    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        *,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        **kwargs: Any,
    ) -> Model:
        """Register the run's file or folder ``model_path`` (a path among its files, as
        ``outputs/model.pkl``) as the next version of model ``model_name``. The files stay
        the run's (no copy); ``Model(ws, model_name)`` finds the latest version. A file
        still in this run's ``./outputs`` folder is stored first. ``model_framework``
        (``Model.Framework.SCIKITLEARN``...) and its version are kept as the model's
        properties of those names.

        Raises:
            InvalidValueError: a bad name, tags, properties, description or framework, or
                no file of the run at ``model_path``.
        """
        model_name = check_model_name(model_name)
        if model_path is None:
            raise InvalidValueError(
                "register_model needs model_path: the path of the model's file or folder "
                "among the run's files (e.g. 'outputs/model.pkl')"
            )
        if not isinstance(model_path, str):
            raise InvalidValueError(
                f"model_path must be a string (a path among the run's files), got "
                f"{_type_name(model_path)}: {model_path!r:.80}"
            )
        model_path = check_name(model_path, "model_path").strip("/")
        if description is not None:
            if not isinstance(description, str):
                raise InvalidValueError(
                    f"description must be a string or None, got {_type_name(description)}"
                )
            check_text(description, "description")
        tags, properties = _check_mapping(tags, "tags"), _check_mapping(properties, "properties")
        properties.update(framework_properties(model_framework, model_framework_version))
        outputs = self._outputs
        if outputs is None and self._is_own_context():  # in a submitted script: its ./outputs
            outputs = (Path.cwd() / "outputs", "outputs")
        if outputs is not None and not self._ended:
            # A live run's outputs are stored when it ends; a model among them is stored now.
            self.upload_outputs(*outputs)
        self.flush()
        if not model_files(self._store, self.id, model_path):
            stored = [f for f in self.get_file_names() if not f.startswith("images/")]
            raise InvalidValueError(
                f"run {self.id!r} has no file or folder {model_path!r} to register as model "
                f"{model_name!r}; its files: {stored[:20] or 'none'} (upload it first with "
                "run.upload_file(name, path), or write it to ./outputs)"
            )
        record = self._store.register_model(
            model_name,
            run_id=self.id,
            path=model_path,
            tags=tags,
            properties=properties,
            description=description,
        )
        return Model(self.experiment.workspace, _record=record)

    # -- snapshots -----------------------------------------------------------------------
    def take_snapshot(self, file_or_folder_path: str | os.PathLike[str]) -> str:
        """Store a zip of a file or a folder (ignoring what a snapshot ignores) with the run.

        Returns:
            The snapshot's id, for ``restore_snapshot``.
        """
        if not isinstance(file_or_folder_path, (str, os.PathLike)):
            raise InvalidValueError(
                f"take_snapshot takes a file or folder path, got {_type_name(file_or_folder_path)}"
            )
        path = Path(file_or_folder_path).expanduser()
        if path.is_file():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.write(path, path.name)
            data = buffer.getvalue()
        elif path.is_dir():
            data = take_snapshot(path)
        else:
            raise InvalidValueError(
                f"take_snapshot: {str(file_or_folder_path)!r} is neither a file nor a folder"
            )
        snapshot_id = str(uuid.uuid4())
        self._add_file(f"{_SNAPSHOTS}{snapshot_id}.zip", data, kind="snapshot")
        self.flush()
        return snapshot_id

    def _snapshots(self) -> dict[str, str]:
        """Snapshot id -> stored path, oldest first."""
        self.flush()
        found = {}
        for f in self._store.list_files(self.id, kind="snapshot"):
            if f.path.startswith(_SNAPSHOTS) and f.path.endswith(".zip"):
                found[f.path[len(_SNAPSHOTS) : -len(".zip")]] = f.path
            else:  # a submitted run's own snapshot
                found[str(uuid.uuid5(uuid.NAMESPACE_URL, f"runwidget:{self.id}/{f.path}"))] = f.path
        return found

    def get_snapshot_id(self) -> str | None:
        """The id of the run's latest snapshot, or None when it has none."""
        return next(reversed(self._snapshots()), None)

    def restore_snapshot(
        self, snapshot_id: str | None = None, path: str | os.PathLike[str] | None = None
    ) -> str:
        """Write a snapshot (default: the latest) as a zip file.

        Args:
            snapshot_id: from ``take_snapshot`` or ``get_snapshot_id``.
            path: the zip file to write, or a folder for ``<snapshot id>.zip`` (default:
                the current folder).

        Returns:
            The zip file's path.

        Raises:
            InvalidValueError: the run has no snapshot, or none with that id; an argument of
                the wrong type.
        """
        if snapshot_id is not None and not isinstance(snapshot_id, str):
            raise InvalidValueError(
                f"restore_snapshot: snapshot_id must be a string or None, got "
                f"{_type_name(snapshot_id)}: {snapshot_id!r:.80}"
            )
        given = (
            check_path(path, "restore_snapshot: path", optional=True) if path is not None else None
        )
        snapshots = self._snapshots()
        if snapshot_id is None:
            if not snapshots:
                raise InvalidValueError(f"run {self.id!r} has no snapshot")
            snapshot_id = next(reversed(snapshots))
        elif snapshot_id not in snapshots:
            raise InvalidValueError(
                f"run {self.id!r} has no snapshot {snapshot_id!r}; its snapshots: "
                f"{list(snapshots) or 'none'}"
            )
        target = given if given is not None else Path.cwd()
        if target.is_dir() or given is None or not target.suffix:
            target.mkdir(parents=True, exist_ok=True)
            target = target / f"{snapshot_id}.zip"
        target.write_bytes(self._store.read_file(self.id, snapshots[snapshot_id]))
        return str(target)

    # -- children ------------------------------------------------------------------------
    def child_run(self, name: str | None = None, run_id: str | None = None) -> Run:
        """Start a child run (Running). Use it as a context manager to end it."""
        if name is not None:
            check_name(name, "child run name")
        return Run.create(
            self.experiment,
            display_name=name,
            run_type=RunType.CHILD,
            parent_id=self.id,
            run_id=run_id,
        )

    def get_children(self, recursive: bool = False) -> list[Run]:
        return [
            Run(self.experiment, r.id, _record=r)
            for r in self._store.get_children(self.id, recursive=recursive)
        ]

    def create_children(
        self,
        count: int | None = None,
        tag_key: str | None = None,
        tag_values: Sequence[str] | None = None,
    ) -> list[Run]:
        """Start ``count`` child runs (Running), or one per value of ``tag_values``, each
        tagged ``tag_key=value``. End each with ``complete()`` (or use it in ``with``).

        Raises:
            InvalidValueError: neither a count nor tag values, or they disagree.
        """
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise InvalidValueError(
                f"count must be a positive int, got {_type_name(count)}: {count!r:.80}"
            )
        if count is not None and count < 1:
            raise InvalidValueError(f"count must be a positive int, got {count}")
        if tag_values is not None:
            if isinstance(tag_values, (str, bytes, Mapping)) or not isinstance(
                tag_values, Sequence
            ):
                raise InvalidValueError(
                    f"tag_values must be a list, got {_type_name(tag_values)}: {tag_values!r:.80}"
                )
            if tag_key is None:
                raise InvalidValueError("create_children: tag_values needs a tag_key")
            check_name(tag_key, "tag_key")
            if count is not None and count != len(tag_values):
                raise InvalidValueError(
                    f"create_children: count={count} but {len(tag_values)} tag_values"
                )
            tags = [_check_mapping({tag_key: v}, "tags") for v in tag_values]
        elif count is None:
            raise InvalidValueError("create_children needs a count or tag_key and tag_values")
        else:
            if tag_key is not None:
                check_name(tag_key, "tag_key")
            tags = [{tag_key: ""} if tag_key is not None else {} for _ in range(count)]
        return [
            Run.create(self.experiment, run_type=RunType.CHILD, parent_id=self.id, tags=t)
            for t in tags
        ]

    def submit_child(self, config: Any, tags: Mapping[str, Any] | None = None) -> Run:
        """Submit a ``ScriptRunConfig`` as a child of this run; returns its run at once."""
        if not callable(getattr(config, "submit_to", None)) or not hasattr(config, "parent_id"):
            raise InvalidValueError(
                f"submit_child takes a ScriptRunConfig, got {_type_name(config)}"
            )
        child = copy.copy(config)  # the caller's config stays as it was
        child.parent_id = self.id
        submitted: Run = child.submit_to(self.experiment, tags=_check_mapping(tags, "tags"))
        return submitted

    # -- ending --------------------------------------------------------------------------
    def complete(self) -> None:
        """Mark the run Completed (after writing everything logged)."""
        self.end(st.COMPLETED)

    def fail(self, error_details: BaseException | str | None = None) -> None:
        """Mark the run Failed with an error message (and traceback for an exception)."""
        error: dict[str, str | None]
        if isinstance(error_details, BaseException):
            error = {
                "message": clean_text(f"{type(error_details).__name__}: {error_details}"),
                "traceback": clean_text("".join(traceback.format_exception(error_details))),
            }
        else:
            error = {"message": clean_text(str(error_details or "failed")), "traceback": None}
        self.end(st.FAILED, error)

    def cancel(self) -> None:
        """Cancel the run. A submitted script's process is stopped, from any process."""
        if self._is_supervised() and not self._is_own_context():
            PROVIDERS.cancel_supervised(self)  # through its compute target
            self._ended = True
            return
        self.end(st.CANCELED)

    def _is_own_context(self) -> bool:
        return os.environ.get("RUNWIDGET_RUN_ID") == self.id

    def _is_supervised(self) -> bool:
        """Whether a local supervisor runs this run (a submitted script, an AutoML search)."""
        return self._record.run_type in RunType.SUPERVISED

    def end(
        self, status: str, error: Mapping[str, Any] | None = None, *, wait: bool = True
    ) -> None:
        """End the run as ``status`` (``complete()``, ``fail()`` and ``cancel()`` are the
        usual ways), with ``error`` (``message`` and ``traceback``) for a failure.

        With ``wait`` (the default) everything logged is written before this returns; without,
        the status is queued behind the run's points (a search ending many child runs).
        A run that has ended already is left as it is.
        """
        if self._ended:
            logger.debug("run %s already ended; %s ignored", self.id, status)
            return
        if self._outputs is not None:
            folder, self._outputs = self._outputs, None
            try:
                skipped = self.upload_outputs(*folder)
            except StoreError as e:  # the run still ends; its files stay in the folder
                skipped = [f"the files of {str(folder[0])!r} ({e})"]
            if skipped:
                import warnings

                warnings.warn(
                    f"not stored with run {self.id!r}: {'; '.join(skipped)}",
                    RunwidgetWarning,
                    stacklevel=3,
                )
        if self._system_metrics is not None:
            self._system_metrics.stop()
            self._system_metrics = None
        self._ended, self._ended_as = True, status
        self._flusher.set_alive(self.id, False)
        self._flusher.update_run(
            self.id, status=status, ended=time.time(), error=error, only_if_status=_NOT_ENDED
        )
        if not wait:
            return
        if not self._flusher.flush(END_FLUSH_TIMEOUT):
            import warnings

            warnings.warn(
                f"run {self.id!r} is {status} but the store is unreachable; the status and "
                "last points stay buffered and are written when it is back (or at exit)",
                RunwidgetWarning,
                stacklevel=3,
            )
        if status == st.FAILED:
            alerts.run_failed(self._store, self.id, error, self._record.display_name)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: builtins.type[BaseException] | None,  # ``type`` is a property here
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or (isinstance(exc, SystemExit) and exc.code in (0, None)):
            self.complete()
        elif isinstance(exc, KeyboardInterrupt):
            self.end(st.CANCELED)
        else:
            self.fail(exc)

    def queue_write(self, task: Callable[[RunStore], None], what: str) -> None:
        """Have ``task(store)`` run by this run's writer thread, in order with what was logged
        before it (for integrations whose writes are more than points, such as an Optuna
        study's trials). See ``Flusher.call``: a task must be safe to run again."""
        self._flusher.call(task, what)

    def flush(self, timeout: float | None = END_FLUSH_TIMEOUT) -> bool:
        """Write everything logged so far. Returns False if the store stayed unreachable."""
        return self._flusher.flush(timeout)

    # -- reading -------------------------------------------------------------------------
    def get_status(self) -> str:
        """The run's status; ``NotResponding`` when an alive run stopped beating."""
        status = self.refresh().current_status()
        # On the run's own host a dead supervisor (or, for a run logged by a process of its
        # own, that process) can be seen: the run is marked Failed.
        if status in (st.NOT_RESPONDING, st.QUEUED) and PROVIDERS.reap(self._store, self._record):
            status = self.refresh().current_status()
        return status

    def get_details(self) -> dict[str, Any]:
        """A dict like the reference SDK's: runId, status, startTimeUtc, endTimeUtc, ...;
        ``properties`` as ``get_properties()`` gives them."""
        r = self.refresh()
        details: dict[str, Any] = {
            "runId": r.id,
            "displayName": r.display_name,
            "experiment": r.experiment,
            "type": r.run_type,
            "status": r.current_status(),
            "startTimeUtc": _iso(r.started),
            "endTimeUtc": _iso(r.ended),
            "properties": _user_properties(r.properties),
            "tags": dict(r.tags),
            "target": r.target,
            "arguments": list(r.arguments),
            "parentRunId": r.parent_id,
            "portalUrl": self.get_portal_url(),
        }
        if r.error is not None:
            details["error"] = dict(r.error)
        if r.properties.get(_DESCRIPTION) is not None:
            details["description"] = r.properties[_DESCRIPTION]
        return details

    def get_details_with_logs(self) -> dict[str, Any]:
        """``get_details()`` plus ``"logFiles"``: log name -> text (a submitted script's
        output log, stdout and stderr in order, as ``LOG_FILE``; none for other runs)."""
        details = self.get_details()
        text = self._output_log()
        details["logFiles"] = {LOG_FILE: text} if text else {}
        return details

    def get_all_logs(self, destination: str | os.PathLike[str] | None = None) -> list[str]:
        """Write the run's logs under ``destination`` (default: a folder named as the run
        id in the current folder). Returns the paths written (none for a run without an
        output log)."""
        root = (
            check_path(destination, "get_all_logs: destination", optional=True)
            if destination is not None
            else Path(self.id)
        )
        text = self._output_log()
        if not text:
            return []
        file = root / LOG_FILE
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
        return [str(file)]

    def _output_log(self) -> str:
        self.flush(READ_FLUSH_TIMEOUT)
        parts, cursor = [], 0
        while True:
            lines = self._store.read_logs(self.id, since=cursor, limit=5000)
            parts += [line.text + "\n" for line in lines]
            if len(lines) < 5000:
                return "".join(parts)
            cursor = lines[-1].seq

    def get_metrics(self, name: str | None = None, recursive: bool = False) -> dict[str, Any]:
        """Metrics by name: one value for a scalar logged once, a list for a series, a
        dict of column lists for rows and tables, file paths for images. With
        ``recursive``, ``{run_id: metrics}`` for this run and all its descendants."""
        if name is not None:
            check_name(name, "metric name")
        self.flush(READ_FLUSH_TIMEOUT)
        if recursive:
            ids = [self.id] + [r.id for r in self._store.get_children(self.id, recursive=True)]
            return {run_id: self._metrics_of(run_id, name) for run_id in ids}
        return self._metrics_of(self.id, name)

    def _metrics_of(self, run_id: str, name: str | None) -> dict[str, Any]:
        points = self._store.read_metrics(run_id, name=name)
        images = [f for f in self._store.list_files(run_id, kind="image") if name in (None, f.name)]
        values = [
            (f.name or f.path, rich.decode(self._store.read_file(run_id, f.path)))
            for f in self._store.list_files(run_id, kind=rich.RICH_KIND)
            if name in (None, f.name)
        ]
        return metrics_dict(points, images, values)

    def get_metrics_frame(self, name: str | None = None, recursive: bool = False) -> pd.DataFrame:
        """Numeric metrics as a long pandas DataFrame: run_id, name, step, value, time."""
        import pandas as pd

        if name is not None:
            check_name(name, "metric name")
        self.flush(READ_FLUSH_TIMEOUT)
        ids = [self.id]
        if recursive:
            ids += [r.id for r in self._store.get_children(self.id, recursive=True)]
        rows = []
        for run_id in ids:
            rows += metrics_rows(run_id, self._store.read_metrics(run_id, name=name))
        return pd.DataFrame(rows, columns=["run_id", "name", "step", "value", "time"])

    def get_output(self, iteration: int | None = None) -> tuple[Run, Any]:
        """Of an AutoML run: its best iteration's child run and fitted model, loaded back
        from the store (``iteration``: that iteration's instead). See
        ``runwidget.automl.output``.

        Raises:
            InvalidValueError: this run is not an AutoML run, or has no such iteration.
            RunwidgetError: no iteration has a model yet.
        """
        if self.type != RunType.AUTOML:
            raise InvalidValueError(
                f"get_output() is for AutoML runs (type {RunType.AUTOML!r}, from "
                f"experiment.submit(AutoMLConfig(...))); run {self.id!r} is of type {self.type!r}"
            )
        return PROVIDERS.get_output(self, iteration)

    def get_portal_url(self) -> str:
        """The URL of this run's page in the portal."""
        return _portal.run_url(self.id, self._store.uri)

    def wait_for_completion(
        self,
        show_output: bool = False,
        wait_post_processing: bool = False,
        raise_on_error: bool = True,
        *,
        poll_interval: float = 0.5,
        file: IO[str] | None = None,
    ) -> dict[str, Any]:
        """Wait until the run ends; with ``show_output``, stream its output log.

        Returns:
            ``get_details()`` of the ended run.

        Raises:
            RunFailedError: the run failed and ``raise_on_error`` is set.
        """
        return wait_for_completion(
            self,
            show_output=show_output,
            raise_on_error=raise_on_error,
            poll_interval=poll_interval,
            file=file or sys.stdout,
        )

    def raise_if_failed(self) -> None:
        r = self._record
        if r.status == st.FAILED:
            error = r.error or {}
            raise RunFailedError(self.id, error.get("message", "failed"), error.get("traceback"))

    def __repr__(self) -> str:
        r = self._record
        return (
            f"Run(experiment={r.experiment!r}, id={r.id!r}, type={r.run_type!r}, "
            f"status={r.status!r})"
        )

    def _repr_html_(self) -> str:
        from html import escape

        r = self._record
        cells = [r.experiment, r.id, r.run_type, r.current_status()]
        link = escape(self.get_portal_url())
        return (
            "<table><tr><th>Experiment</th><th>Id</th><th>Type</th><th>Status</th>"
            "<th>Details page</th></tr><tr>"
            + "".join(f"<td>{escape(c)}</td>" for c in cells)
            + f'<td><a href="{link}" target="_blank" rel="noopener">Link to portal</a></td>'
            "</tr></table>"
        )

    # Last in the class: from here on, ``list`` in the class body is this method.
    @classmethod
    def list(
        cls,
        experiment: Experiment,
        type: str | None = None,  # noqa: A002 - the reference SDK's name
        tags: str | Mapping[str, Any] | None = None,
        properties: str | Mapping[str, Any] | None = None,
        status: str | None = None,
        include_children: bool = False,
    ) -> Iterator[Run]:
        """Runs of ``experiment``, newest first, as ``experiment.get_runs`` with a status.

        ``tags`` and ``properties``: a name (set to any value) or a dict of name to value.
        """
        from runwidget.tracking.experiment import Experiment

        if not isinstance(experiment, Experiment):
            raise InvalidValueError(
                f"Run.list takes an Experiment first, got {_type_name(experiment)}"
            )
        return experiment.get_runs(
            type=type,
            tags=tags,
            properties=properties,
            include_children=include_children,
            status=status,
        )


def _user_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in properties.items() if not k.startswith(_INTERNAL)}


def _check_mapping(value: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"{what} must be a dict, got {type(value).__name__}: {value!r:.80}")
    out: dict[str, Any] = {}
    one = "property" if what == "properties" else what[:-1]
    for key, item in value.items():
        check_name(key, f"{one} name")
        if item is not None and not isinstance(item, (str, int, float, bool)):
            raise InvalidValueError(
                f"{one} {key!r} must be a string, number or bool, got "
                f"{type(item).__name__}: {item!r:.80}"
            )
        if isinstance(item, str):
            check_text(item, f"{one} {key!r}")
        out[key] = item
    return out


def outputs_folder(folder: Any) -> tuple[Path, str]:
    """``start_logging``'s ``outputs``: the folder (created if missing) and the name its
    files are stored under (``outputs`` for ``./outputs``)."""
    if not isinstance(folder, (str, os.PathLike)):
        raise InvalidValueError(
            f"outputs must be a folder path, or False for none, got {_type_name(folder)}: "
            f"{folder!r:.80}"
        )
    given = Path(folder).expanduser()
    path = given if given.is_absolute() else Path.cwd() / given
    if path.exists() and not path.is_dir():
        raise InvalidValueError(f"outputs: {str(folder)!r} is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InvalidValueError(f"outputs: cannot create {str(folder)!r}: {e}") from e
    relative = Path(os.path.normpath(given))
    name = "" if given.is_absolute() or ".." in relative.parts else relative.as_posix()
    if name in ("", "."):
        name = path.resolve().name or "outputs"
    return path.resolve(), name


def _check_file_name(name: Any) -> str:
    checked = check_name(name, "file name")
    if checked.startswith("/") or ".." in Path(checked).parts:
        raise InvalidValueError(f"file name {checked!r} must be a relative path without '..'")
    return checked


def _read_bytes(path: str | os.PathLike[str], what: str) -> bytes:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidValueError(f"{what}: path must be a str or Path, got {type(path).__name__}")
    file = Path(path)
    if not file.is_file():
        raise InvalidValueError(f"{what}: {str(path)!r} is not a file")
    size = file.stat().st_size
    limit = _settings.max_file_bytes()
    if size > limit:
        raise InvalidValueError(
            f"{what}: {str(path)!r} is {size} bytes; the limit is {limit} "
            "(set RUNWIDGET_MAX_FILE_BYTES to raise it)"
        )
    return file.read_bytes()


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _type_name(value: Any) -> str:
    return type(value).__name__
