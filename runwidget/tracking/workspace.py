"""Workspace: a handle on one run store."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from runwidget.errors import InvalidValueError
from runwidget.store import RunStore, open_store, redact_uri, resolve_store_uri
from runwidget.tracking.providers import PROVIDERS

if TYPE_CHECKING:
    from runwidget.compute.target import ComputeTarget
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run


# Where ``Workspace.from_config()`` looks, in the folder and then in each of its parents.
CONFIG_FILES = (".runwidget/config.json", ".azureml/config.json", "config.json")


class Workspace:
    """Where runs are kept.

    Args:
        store: a store URI (``sqlite:///path/runs.db``, ``postgresql://user@host/db``) or a
            ``RunStore``. Default: ``$RUNWIDGET_STORE``, else ``.runwidget/runs.db`` under the
            current directory.
        subscription_id, resource_group, workspace_name: the reference SDK's names, kept
            as given (a reference ``config.json`` read by ``from_config``); they choose
            nothing: the store is the workspace.

    Attributes:
        name: ``workspace_name`` if given, else the store's database name (``runs`` for
            ``.../runs.db``).
        location: ``"local"`` for an SQLite file, the server's host for PostgreSQL.
        subscription_id, resource_group: as given, else None (there is no cloud account).
    """

    def __init__(
        self,
        store: str | RunStore | None = None,
        *,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
    ) -> None:
        for what, value in (
            ("subscription_id", subscription_id),
            ("resource_group", resource_group),
            ("workspace_name", workspace_name),
        ):
            if value is not None and not isinstance(value, str):
                raise InvalidValueError(
                    f"{what} must be a string or None, got {type(value).__name__}: {value!r:.80}"
                )
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self._name = workspace_name or None
        if isinstance(store, RunStore):
            self.store = store
        elif store is None or isinstance(store, str):
            self.store = open_store(store)
        else:
            raise InvalidValueError(
                f"store must be a URI string or a RunStore, got {type(store).__name__}: {store!r}"
            )

    @property
    def uri(self) -> str:
        return self.store.uri

    @property
    def name(self) -> str:
        if self._name:
            return self._name
        database = make_url(self.uri).database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            return "memory"
        return Path(database).stem if self._is_sqlite() else database

    @property
    def location(self) -> str:
        return "local" if self._is_sqlite() else (make_url(self.uri).host or "localhost")

    def _is_sqlite(self) -> bool:
        return make_url(self.uri).get_backend_name() == "sqlite"

    def get_details(self) -> dict[str, Any]:
        """A dict like the reference SDK's: name, location, the store (password hidden)."""
        return {
            "id": redact_uri(self.uri),
            "name": self.name,
            "location": self.location,
            "subscriptionId": self.subscription_id,
            "resourceGroup": self.resource_group,
            "store": redact_uri(self.uri),
            "storeKind": make_url(self.uri).get_backend_name(),
            "experiments": sorted(e.name for e in self.store.list_experiments()),
        }

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None) -> Workspace:
        """The workspace a config file names, as the reference SDK's ``from_config``.

        Looks for ``.runwidget/config.json``, ``.azureml/config.json`` or ``config.json`` in
        ``path`` (a folder, default the current one) and then in its parents; ``path`` may
        also be the file itself. The file is JSON: ``{"store": "sqlite:///runs.db"}`` (a
        relative SQLite path is relative to the file's folder). A reference config
        (``subscription_id``, ``resource_group``, ``workspace_name``) without ``store``
        gives the default store and keeps those names. With no file and no ``path``: the
        default workspace.

        Raises:
            InvalidValueError: ``path`` does not exist or holds no config file, or the
                file is not such JSON.
        """
        if path is None:
            found = _find_config(Path.cwd())
            if found is None:
                return default_workspace()
        else:
            if not isinstance(path, (str, os.PathLike)):
                raise InvalidValueError(
                    f"from_config(path=...) takes a folder or a file path, got "
                    f"{type(path).__name__}: {path!r:.80}"
                )
            given = Path(path).expanduser()
            if given.is_file():
                found = given
            elif given.is_dir():
                found = _find_config(given)
                if found is None:
                    raise InvalidValueError(
                        f"no workspace config in {str(path)!r} or its parents (looked for "
                        f"{', '.join(CONFIG_FILES)}); write one such as "
                        '{"store": "sqlite:///runs.db"}'
                    )
            else:
                raise InvalidValueError(
                    f"workspace config {str(path)!r} does not exist "
                    f"(looked in {str(given.resolve())!r})"
                )
        return cls(**_read_config(found))

    @property
    def experiments(self) -> _Experiments:
        """Every experiment in the store, by name: ``ws.experiments["name"]`` as in the
        reference SDK (``ws.experiments()`` works too)."""
        from runwidget.tracking.experiment import Experiment

        return _Experiments(
            {e.name: Experiment(self, e.name) for e in self.store.list_experiments()}
        )

    @classmethod
    def get(
        cls,
        name: str,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        *,
        store: str | RunStore | None = None,
    ) -> Workspace:
        """The reference SDK's ``Workspace.get``: the store ``store`` (default: the default
        store) under the name ``name``; the names choose nothing."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidValueError(f"Workspace.get takes a name, got {name!r:.80}")
        return cls(
            store,
            subscription_id=subscription_id,
            resource_group=resource_group,
            workspace_name=name,
        )

    @property
    def compute_targets(self) -> dict[str, ComputeTarget]:
        """The attached compute targets by name; ``local`` is always there."""
        return PROVIDERS.list_targets(self)

    def get_run(self, run_id: str) -> Run:
        from runwidget.tracking.run import Run

        return Run.get(self, run_id)

    def __repr__(self) -> str:
        return f"Workspace({self.uri!r})"


class _Experiments(dict[str, "Experiment"]):
    """``ws.experiments``: a dict, also callable (the older ``ws.experiments()``)."""

    def __call__(self) -> _Experiments:
        return self


def _find_config(start: Path) -> Path | None:
    for folder in (start.resolve(), *start.resolve().parents):
        for name in CONFIG_FILES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def _read_config(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidValueError(f"workspace config {str(file)!r} is not readable JSON: {e}") from e
    if not isinstance(data, dict):
        raise InvalidValueError(
            f"workspace config {str(file)!r} must hold a JSON object such as "
            f'{{"store": "sqlite:///runs.db"}}, got {type(data).__name__}'
        )
    store = data.get("store")
    if store is not None:
        if not isinstance(store, str) or not store.strip():
            raise InvalidValueError(
                f'"store" in workspace config {str(file)!r} must be a store URI string, '
                f"got {store!r:.80}"
            )
        url = make_url(store) if "://" in store else None
        database = url.database if url is not None else None
        if (
            url is not None
            and url.get_backend_name() == "sqlite"
            and database
            and database != ":memory:"
            and not database.startswith("file:")
            and not Path(database).is_absolute()
        ):
            store = url.set(database=str(file.parent / database)).render_as_string(
                hide_password=False
            )
    names = {}
    for key in ("subscription_id", "resource_group", "workspace_name"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidValueError(
                f"{key!r} in workspace config {str(file)!r} must be a string, got {value!r:.80}"
            )
        names[key] = value
    return {"store": store, **names}


_default: Workspace | None = None
_default_lock = threading.Lock()


def default_workspace() -> Workspace:
    """The workspace used when none is given; follows ``$RUNWIDGET_STORE`` if it changes."""
    global _default
    with _default_lock:
        if _default is None or _default.uri != resolve_store_uri():
            _default = Workspace()
        return _default


def _reset_default_workspace() -> None:
    """Flush and forget every open store (for tests)."""
    global _default
    from runwidget import store as store_module
    from runwidget.tracking import _flusher

    _flusher.close_all(timeout=5, forget=True)
    store_module.close_all()
    with _default_lock:
        _default = None
