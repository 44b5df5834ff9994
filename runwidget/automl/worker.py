"""The iteration process: fits pipelines for the search, one at a time, in its own process.

The search process (``search.py``) never fits a model itself. It keeps one iteration process
that loads the training data once and fits pipeline after pipeline, so that:

* an iteration that runs past its time (the iteration or experiment time limit, or a
  cancel's grace period) is stopped by killing that process; the next one starts afresh;
* an iteration that crashes its process (out of memory, a fault in native code) fails
  alone, and the search goes on.

The iteration process ignores SIGTERM: a cancel reaches the whole process group, and the
iteration in progress must be allowed to finish (the search process decides when to give
up on it). Messages are tuples over a ``multiprocessing`` pipe:

* search → iteration: ``("evaluate", iteration, spec)``, ``("save", iteration, path)``,
  ``("stop",)``;
* iteration → search: ``("ready",)`` or ``("fatal", error)`` once, then
  ``("result", iteration, metrics, warnings)``, ``("saved", iteration, size)`` or
  ``("error", iteration, error)`` for each request.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger("runwidget.automl")

# How long the iteration process may take to start and load the data.
START_TIMEOUT = 600.0
POLL = 0.1
_MAX_WARNINGS = 5


# -- the iteration process ----------------------------------------------------------------
def serve(conn: Connection, data_path: str, settings: dict[str, Any]) -> None:
    """Main function of the iteration process."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import pandas as pd

        from runwidget.automl.evaluate import Data

        data = Data.prepare(pd.read_pickle(data_path), settings)
    except BaseException as error:
        conn.send(("fatal", error_of(error)))
        return
    conn.send(("ready",))
    cores = int(settings.get("max_cores_per_iteration", 1))
    with _thread_limits(cores):
        _loop(conn, data, settings)


def _loop(conn: Connection, data: Any, settings: dict[str, Any]) -> None:
    from runwidget.automl.evaluate import evaluate, final_model

    last: tuple[int, dict[str, Any], Any] | None = None  # the last iteration evaluated
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the search process is gone
        op = message[0]
        if op == "stop":
            return
        iteration = message[1]
        try:
            if op == "evaluate":
                spec = message[2]
                last = None
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    found = evaluate(spec, data, settings)
                last = (iteration, spec, found)
                conn.send(("result", iteration, found.metrics, _distinct(caught)))
            elif op == "save":
                if last is None or last[0] != iteration:
                    raise RuntimeError(f"iteration {iteration} is not the last one evaluated")
                _, spec, found = last
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = final_model(spec, data, settings, found)
                path = message[2]
                with open(path, "wb") as f:
                    pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
                conn.send(("saved", iteration, os.path.getsize(path)))
            else:
                raise RuntimeError(f"unknown request {op!r}")
        except Exception as error:
            conn.send(("error", iteration, error_of(error)))


def _thread_limits(cores: int) -> contextlib.AbstractContextManager[Any]:
    if cores < 1:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    # BLAS and OpenMP (histogram gradient boosting) threads; n_jobs covers the rest.
    limits: contextlib.AbstractContextManager[Any] = threadpool_limits(limits=cores)
    return limits


def _distinct(caught: list[warnings.WarningMessage]) -> list[str]:
    seen: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0] if str(w.message) else ''}"
        if text not in seen:
            seen.append(text)
        if len(seen) >= _MAX_WARNINGS:
            break
    return seen


def error_of(error: BaseException) -> dict[str, str]:
    """A run's error for an exception: message and traceback."""
    return {
        "message": f"{type(error).__name__}: {error}",
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    }


# -- the search process's handle ----------------------------------------------------------
class WorkerError(Exception):
    """The iteration process cannot start (the data cannot be read, ...)."""

    def __init__(self, error: dict[str, str]) -> None:
        self.error = error
        super().__init__(error["message"])


@dataclass
class Outcome:
    """How one request to the iteration process ended.

    ``kind``: ``ok``; ``failed`` (it raised: ``error``); ``timeout`` (it ran past its time
    and was stopped); ``stopped`` (``should_stop`` gave a reason: ``reason``); ``crashed``
    (the process died: ``error``).
    """

    kind: str
    metrics: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: dict[str, str | None] | None = None
    reason: str | None = None
    size: int = 0


class IterationWorker:
    """The search process's handle on its iteration process (started on first use).

    Args:
        data_path: the pickled training DataFrame.
        settings: the search's settings (``AutoMLConfig.settings()``).
    """

    def __init__(self, data_path: str, settings: dict[str, Any]) -> None:
        self.data_path = data_path
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Connection | None = None
        self.starts = 0

    def evaluate(
        self,
        iteration: int,
        spec: dict[str, Any],
        timeout: float | None,
        should_stop: Callable[[], str | None],
    ) -> Outcome:
        """Fit and score ``spec``; at most ``timeout`` seconds once the process is ready.

        Raises:
            WorkerError: the iteration process could not start.
        """
        reason = self.start(should_stop)
        if reason is not None:
            return Outcome("stopped", reason=reason)
        return self._request(("evaluate", iteration, spec), timeout, should_stop)

    def save(
        self,
        iteration: int,
        path: str,
        timeout: float | None,
        should_stop: Callable[[], str | None],
    ) -> Outcome:
        """Write the model of ``iteration`` (the last one evaluated) to ``path``."""
        if self._conn is None:
            return Outcome("crashed", error=_message("the iteration process is gone"))
        return self._request(("save", iteration, path), timeout, should_stop)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the iteration process (killed if it does not stop in ``timeout`` s)."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None:
            return
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("stop",))
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(5)
        if conn is not None:
            conn.close()

    def start(self, should_stop: Callable[[], str | None]) -> str | None:
        """Start the iteration process unless it runs, and wait until it has loaded the data.

        Returns:
            None when it is ready; the reason ``should_stop`` gave if it stopped the wait.

        Raises:
            WorkerError: the process could not start or load the data.
        """
        if self._process is not None and self._process.is_alive():
            return None
        self.close()
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=serve,
            args=(theirs, self.data_path, self.settings),
            name="runwidget-automl-iterations",
        )
        process.start()
        theirs.close()
        self._process, self._conn = process, ours
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while not ours.poll(POLL):
            reason = should_stop()
            if reason is not None:
                self._kill()
                return reason
            if not process.is_alive() and not ours.poll(0):
                code = process.exitcode
                self._kill()
                raise WorkerError(
                    _message(f"the iteration process exited at start ({_exit(code)})")
                )
            if time.monotonic() > deadline:
                self._kill()
                raise WorkerError(
                    _message(f"the iteration process did not start within {START_TIMEOUT:.0f} s")
                )
        try:
            message = ours.recv()
        except (EOFError, OSError):
            code = process.exitcode
            self._kill()
            raise WorkerError(
                _message(f"the iteration process exited at start ({_exit(code)})")
            ) from None
        if message[0] != "ready":
            self._kill()
            raise WorkerError(message[1])
        return None

    def _request(
        self, message: tuple[Any, ...], timeout: float | None, should_stop: Callable[[], str | None]
    ) -> Outcome:
        conn, process = self._conn, self._process
        assert conn is not None and process is not None
        conn.send(message)
        started = time.monotonic()
        while True:
            if conn.poll(POLL):
                try:
                    reply = conn.recv()
                except (EOFError, OSError):
                    return self._crashed()
                break
            if not process.is_alive():
                if conn.poll(0):
                    continue
                return self._crashed()
            reason = should_stop()
            if reason is not None:
                self._kill()
                return Outcome("stopped", reason=reason)
            if timeout is not None and time.monotonic() - started > timeout:
                self._kill()
                return Outcome("timeout", reason=f"ran for more than {timeout:.0f} s")
        kind = reply[0]
        if kind == "result":
            return Outcome("ok", metrics=reply[2], warnings=list(reply[3]))
        if kind == "saved":
            return Outcome("ok", size=int(reply[2]))
        return Outcome("failed", error=reply[2])

    def _crashed(self) -> Outcome:
        process = self._process
        code = None
        if process is not None:
            process.join(5)
            code = process.exitcode
        self._kill()
        hint = " (out of memory?)" if code == -signal.SIGKILL else ""
        return Outcome(
            "crashed", error=_message(f"the iteration's process died ({_exit(code)}){hint}")
        )

    def _kill(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is not None and process.is_alive():
            process.kill()
        if process is not None:
            process.join(5)
        if conn is not None:
            conn.close()


def _message(text: str) -> dict[str, Any]:
    return {"message": text, "traceback": None}


def _exit(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
