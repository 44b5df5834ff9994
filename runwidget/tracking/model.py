"""Model: a registered model, as the reference SDK's ``azureml.core.Model``.

``run.register_model(model_name, model_path)`` records a version of a model: the files of
the run at ``model_path`` (a file, or a folder and everything under it), kept in the store
like every other file of the run. Versions of one name count up from 1.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runwidget.errors import InvalidValueError, ModelNotFoundError
from runwidget.store import FileInfo, RunStore
from runwidget.store.records import ModelRecord
from runwidget.tracking._validate import check_name
from runwidget.tracking.workspace import Workspace

# The experiment of the runs that keep the files of models registered from local files.
REGISTER_EXPERIMENT = "registered-models"
# The reference SDK's rule for model names.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")


def check_model_name(name: Any, what: str = "model_name") -> str:
    """A model name as the reference SDK allows: letters, digits, ``-``, ``_`` and ``.``,
    starting with a letter or digit, at most 255 characters.

    Raises:
        InvalidValueError: anything else.
    """
    name = check_name(name, what)
    if not _NAME.match(name):
        raise InvalidValueError(
            f"{what} may hold only letters, digits, '-', '_' and '.', starting with a letter "
            f"or digit, got {name!r:.80}"
        )
    return str(name)


def framework_properties(framework: Any, version: Any) -> dict[str, str]:
    """The reference SDK's ``model_framework`` and ``model_framework_version``, kept as
    the model's properties of those names (the store has no column for them)."""
    out = {}
    for what, value in (("model_framework", framework), ("model_framework_version", version)):
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidValueError(
                f"{what} must be a string or None (e.g. Model.Framework.SCIKITLEARN), got "
                f"{type(value).__name__}: {value!r:.80}"
            )
        out[what] = check_name(value, what)
    return out


def model_files(store: RunStore, run_id: str, path: str) -> list[FileInfo]:
    """The run's files that a model at ``path`` holds: the file itself, or every file
    under the folder ``path``."""
    folder = path.rstrip("/") + "/"
    return [
        f
        for f in store.list_files(run_id)
        if f.kind != "snapshot" and (f.path == path or f.path.startswith(folder))
    ]


class Model:
    """A version of a registered model.

    ``Model(ws, "name")`` is the latest version, ``Model(ws, "name", version=2)`` that one;
    ``Model(ws, id="name:2")`` as well.

    Attributes:
        name, version, id (``name:version``), tags, properties, description, run_id,
        experiment_name, created_time, workspace, url (where it is in the portal),
        model_framework and model_framework_version (as registered, else None).

    Raises:
        ModelNotFoundError: no model of that name, or no such version.
        InvalidValueError: a bad name, version or workspace.
    """

    class Framework:
        """The reference SDK's names for ``model_framework``."""

        CUSTOM = "Custom"
        MULTI = "Multi"
        ONNX = "Onnx"
        PYTORCH = "PyTorch"
        SCIKITLEARN = "ScikitLearn"
        TENSORFLOW = "TensorFlow"

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - the reference SDK's name
        tags: Sequence[Any] | Mapping[str, Any] | None = None,
        properties: Sequence[Any] | Mapping[str, Any] | None = None,
        version: int | None = None,
        run_id: str | None = None,
        *,
        _record: ModelRecord | None = None,
    ) -> None:
        if not isinstance(workspace, Workspace):
            raise InvalidValueError(
                f"Model takes a Workspace first, got {type(workspace).__name__}: {workspace!r:.80}"
            )
        self.workspace = workspace
        if _record is None:
            if id is not None:
                if not isinstance(id, str) or ":" not in id:
                    raise InvalidValueError(
                        f"id must be 'name:version' (e.g. 'my-model:2'), got {id!r:.80}"
                    )
                id_name, _, id_version = id.rpartition(":")
                if name is not None and name != id_name:
                    raise InvalidValueError(f"name {name!r} and id {id!r} name other models")
                name, version = id_name, _version(id_version)
            if name is None:
                raise InvalidValueError("Model needs a name (or an id 'name:version')")
            name = check_model_name(name, "name")
            if version is not None:
                version = _version(version)
            candidates = [workspace.store.get_model(name, version)]
            if tags is not None or properties is not None or run_id is not None:
                # Narrowed, as the reference SDK does: the latest version that matches.
                candidates = _matching(
                    workspace.store.list_models(name) if version is None else candidates,
                    tags,
                    properties,
                    run_id,
                )
                if not candidates:
                    raise ModelNotFoundError(
                        f"no version of model {name!r} has those tags, properties or run id"
                    )
            _record = candidates[0]
        self._record = _record

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def version(self) -> int:
        return self._record.version

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def tags(self) -> dict[str, Any]:
        return dict(self._record.tags)

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self._record.properties)

    @property
    def description(self) -> str | None:
        return self._record.description

    @property
    def model_framework(self) -> str | None:
        return self._record.properties.get("model_framework")

    @property
    def model_framework_version(self) -> str | None:
        return self._record.properties.get("model_framework_version")

    @property
    def run_id(self) -> str | None:
        return self._record.run_id

    @property
    def experiment_name(self) -> str | None:
        return self._record.experiment

    @property
    def path(self) -> str:
        """The model's path among its run's files."""
        return self._record.path

    @property
    def created_time(self) -> datetime:
        return datetime.fromtimestamp(self._record.created, tz=timezone.utc)

    @property
    def url(self) -> str:
        from runwidget.tracking import _portal

        return _portal.models_url(self.name, self.workspace.store.uri)

    @property
    def run(self) -> Any:
        """The run the model was registered from."""
        from runwidget.tracking.run import Run

        if self.run_id is None:
            return None
        return Run.get(self.workspace, self.run_id)

    def get_file_names(self) -> list[str]:
        """The model's files, as paths among its run's files."""
        if self.run_id is None:
            return []
        return [f.path for f in model_files(self.workspace.store, self.run_id, self.path)]

    def download(self, target_dir: str | os.PathLike[str] = ".", exist_ok: bool = False) -> str:
        """Write the model's files into ``target_dir``: a file model as ``<target_dir>/<its
        name>``, a folder model as ``<target_dir>/<folder name>/...``.

        Returns:
            The path of the file or folder written.

        Raises:
            InvalidValueError: ``target_dir`` is not a folder path, ``exist_ok`` is not a
                bool, or a file is there already and ``exist_ok`` is False.
        """
        if not isinstance(target_dir, (str, os.PathLike)):
            raise InvalidValueError(
                f"target_dir must be a folder path, got {type(target_dir).__name__}: "
                f"{target_dir!r:.80}"
            )
        if not isinstance(exist_ok, bool):
            raise InvalidValueError(
                f"exist_ok must be True or False, got {type(exist_ok).__name__}: {exist_ok!r:.80}"
            )
        root = Path(target_dir).expanduser()
        if root.exists() and not root.is_dir():
            raise InvalidValueError(f"target_dir {str(target_dir)!r} is not a folder")
        store, run_id = self.workspace.store, self.run_id
        files = model_files(store, run_id, self.path) if run_id is not None else []
        if not files:
            raise ModelNotFoundError(
                f"model {self.id!r}: its run {run_id!r} has no file at {self.path!r}"
            )
        base = self.path.rstrip("/")
        parent = base.rpartition("/")[0]
        writes = []
        for f in files:
            relative = f.path[len(parent) + 1 :] if parent else f.path
            target = root.joinpath(*relative.split("/"))
            if target.exists() and not exist_ok:
                raise InvalidValueError(
                    f"{str(target)!r} exists already; pass exist_ok=True to overwrite it"
                )
            writes.append((f, target))
        for f, target in writes:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(store.read_file(run_id, f.path))  # type: ignore[arg-type]
        return str(root.joinpath(*base.rpartition("/")[2].split("/")))

    def serialize(self) -> dict[str, Any]:
        """The model as a dict (the reference SDK's keys)."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "tags": self.tags,
            "properties": self.properties,
            "description": self.description,
            "runId": self.run_id,
            "experimentName": self.experiment_name,
            "path": self.path,
            "createdTime": self.created_time.isoformat().replace("+00:00", "Z"),
        }

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Model)
            and other.id == self.id
            and other.workspace.store.uri == self.workspace.store.uri
        )

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, version={self.version}, run_id={self.run_id!r})"

    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str | os.PathLike[str],
        model_name: str,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        *,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
    ) -> Model:
        """Register a local file or folder as the next version of ``model_name``, as the
        reference SDK's ``Model.register``. Its files are stored in the workspace's store
        with a run of experiment ``REGISTER_EXPERIMENT`` made for it (tagged with the
        model's name), like every other run's files.

        Raises:
            InvalidValueError: a bad workspace, name or framework, or ``model_path`` is
                neither a file nor a folder.
        """
        from runwidget.tracking.experiment import Experiment

        if not isinstance(workspace, Workspace):
            raise InvalidValueError(
                f"Model.register takes a Workspace first, got {type(workspace).__name__}"
            )
        model_name = check_model_name(model_name)
        framework_properties(model_framework, model_framework_version)  # before any upload
        if not isinstance(model_path, (str, os.PathLike)):
            raise InvalidValueError(
                f"model_path must be a local file or folder path, got "
                f"{type(model_path).__name__}: {model_path!r:.80}"
            )
        local = Path(model_path).expanduser()
        if not local.exists():
            raise InvalidValueError(
                f"model_path {str(model_path)!r} is neither a file nor a folder"
            )
        experiment = Experiment(workspace, REGISTER_EXPERIMENT)
        run = experiment.start_logging(
            display_name=f"register {model_name}", tags={"model": model_name}, outputs=False
        )
        with run:
            stored = f"outputs/{local.resolve().name or 'model'}"
            if local.is_dir():
                run.upload_folder(stored, local)
            else:
                run.upload_file(stored, local)
            model = run.register_model(
                model_name,
                stored,
                tags,
                properties,
                description,
                model_framework=model_framework,
                model_framework_version=model_framework_version,
            )
        return model

    @staticmethod
    def list(  # noqa: A003 - the reference SDK's name
        workspace: Workspace,
        name: str | None = None,
        tags: Sequence[Any] | Mapping[str, Any] | None = None,
        properties: Sequence[Any] | Mapping[str, Any] | None = None,
        run_id: str | None = None,
        latest: bool = False,
    ) -> list[Model]:
        """Registered models, newest first: every version, or with ``latest`` the newest of
        each name.

        Args:
            workspace: where to look.
            name: only the versions of this model.
            tags: only models with these tags: a list of names (set to any value) or of
                ``[name, value]`` pairs, as in the reference SDK, or a dict.
            properties: only models with these properties, in the same forms.
            run_id: only models registered from this run.
            latest: only the newest version of each name.

        Raises:
            InvalidValueError: a bad workspace, name, tags or properties.
        """
        if not isinstance(workspace, Workspace):
            raise InvalidValueError(
                f"Model.list takes a Workspace first, got {type(workspace).__name__}"
            )
        if name is not None:
            name = check_model_name(name, "name")
        records = _matching(workspace.store.list_models(name), tags, properties, run_id)
        if latest:
            seen: set[str] = set()
            newest = []
            for r in records:
                if r.name not in seen:
                    seen.add(r.name)
                    newest.append(r)
            records = newest
        return [Model(workspace, _record=r) for r in records]


def _version(value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"version must be a positive int, got {value!r:.80}")
    return value


def _wanted(value: Sequence[Any] | Mapping[str, Any] | None, what: str) -> list[tuple[Any, ...]]:
    """``[(name, value or ANY)]`` from a dict, a list of names or of [name, value] pairs."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(check_name(k, f"{what} name"), v) for k, v in value.items()]
    if isinstance(value, str):
        return [(check_name(value, f"{what} name"), _ANY)]
    if not isinstance(value, (list, tuple)):
        raise InvalidValueError(
            f"{what} must be a list of names or of [name, value] pairs, or a dict, got "
            f"{type(value).__name__}: {value!r:.80}"
        )
    out: list[tuple[Any, ...]] = []
    for item in value:
        if isinstance(item, str):
            out.append((check_name(item, f"{what} name"), _ANY))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            out.append((check_name(item[0], f"{what} name"), item[1]))
        else:
            raise InvalidValueError(
                f"each of {what} must be a name or a [name, value] pair, got {item!r:.80}"
            )
    return out


_ANY = object()


def _matching(
    records: Iterable[ModelRecord],
    tags: Sequence[Any] | Mapping[str, Any] | None,
    properties: Sequence[Any] | Mapping[str, Any] | None,
    run_id: str | None,
) -> list[ModelRecord]:
    want_tags, want_props = _wanted(tags, "tags"), _wanted(properties, "properties")

    def has(stored: Mapping[str, Any], wanted: list[tuple[Any, ...]]) -> bool:
        return all(k in stored and (v is _ANY or stored[k] == v) for k, v in wanted)

    return [
        r
        for r in records
        if has(r.tags, want_tags)
        and has(r.properties, want_props)
        and (run_id is None or r.run_id == run_id)
    ]
