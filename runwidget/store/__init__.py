"""Run stores, chosen by URI: argument > ``RUNWIDGET_STORE`` > the embedded default."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from runwidget.errors import StoreError
from runwidget.store.base import RunStore
from runwidget.store.records import (
    AlertKind,
    AlertLevel,
    AlertRecord,
    Batch,
    ExperimentRecord,
    FileInfo,
    LogLine,
    MetricColumns,
    MetricKind,
    MetricPoint,
    NewFile,
    RunFilter,
    RunPage,
    RunRecord,
    RunTotal,
    RunType,
    RunVersion,
    TargetRecord,
)
from runwidget.store.sql import SqlStore

__all__ = [
    "AlertKind",
    "AlertLevel",
    "AlertRecord",
    "Batch",
    "ExperimentRecord",
    "FileInfo",
    "LogLine",
    "MetricColumns",
    "MetricKind",
    "RunType",
    "MetricPoint",
    "NewFile",
    "RunFilter",
    "RunPage",
    "RunRecord",
    "RunStore",
    "RunTotal",
    "RunVersion",
    "SqlStore",
    "TargetRecord",
    "default_store_uri",
    "open_store",
    "redact_uri",
    "resolve_store_uri",
]

ENV_VAR = "RUNWIDGET_STORE"

# URI scheme (the part before "+driver") -> store class.
_REGISTRY: dict[str, Callable[[str], RunStore]] = {
    "sqlite": SqlStore,
    "postgresql": SqlStore,
    "postgres": SqlStore,
}

_open_stores: dict[str, RunStore] = {}
_open_lock = threading.Lock()


def default_store_uri() -> str:
    """The embedded default: ``sqlite:///<cwd>/.runwidget/runs.db``."""
    return f"sqlite:///{Path.cwd() / '.runwidget' / 'runs.db'}"


def resolve_store_uri(uri: str | None = None) -> str:
    """The URI to use: ``uri`` if given, else ``$RUNWIDGET_STORE``, else the default.

    Raises:
        StoreError: the URI's scheme is not one runwidget knows.
    """
    if uri is not None and not isinstance(uri, str):
        raise StoreError(f"store URI must be a string, got {type(uri).__name__}")
    chosen = uri or os.environ.get(ENV_VAR) or default_store_uri()
    scheme = chosen.split("://", 1)[0].split("+", 1)[0].lower() if "://" in chosen else ""
    if scheme not in _REGISTRY:
        raise StoreError(
            f"unknown run store URI {redact_uri(chosen)!r}; accepted schemes: "
            + ", ".join(f"{k}://" for k in sorted(_REGISTRY))
            + " (for example sqlite:///path/to/runs.db or postgresql://user@host/db)"
        )
    return chosen


def redact_uri(uri: str) -> str:
    """``uri`` fit for a message or a log line: a password in it becomes ``***``."""
    if "://" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return uri
    credentials, host = authority.rsplit("@", 1)
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}{slash}{path}"


def open_store(uri: str | None = None) -> RunStore:
    """The process's store for this URI, opened once and shared by every caller."""
    resolved = resolve_store_uri(uri)
    with _open_lock:
        store = _open_stores.get(resolved)
        if store is None:
            scheme = resolved.split("://", 1)[0].split("+", 1)[0].lower()
            store = _REGISTRY[scheme](resolved)
            _open_stores[resolved] = store
        return store


def close_all() -> None:
    """Close every store this process opened (tests use it to start afresh)."""
    with _open_lock:
        for store in _open_stores.values():
            store.close()
        _open_stores.clear()
