"""The supervisor of one local script run: ``python -m runwidget.execution.supervisor RUN_ID``.

Started detached by ``experiment.submit`` (see ``config.py``), with the store's URI in
``RUNWIDGET_STORE``. It:

1. waits for a free local slot, oldest submission first (``slots.py``); the run is Queued;
2. takes the slot, marks the run **Starting**, starts beating its heartbeat and unpacks the
   run's stored snapshot into a fresh working directory;
3. runs the script there with the submitting interpreter (through ``_bootstrap.py``) in a
   process group of its own, marks the run **Running**, and writes every line of the
   script's stdout and stderr into the store (``capture.py``) within about half a second;
4. when the script has exited, marks the run **Finalizing**, writes the last lines and the
   files of ``./outputs``, then ends it: **Completed** (exit code 0), **Failed** (with the
   exit code, or the signal, and the script's exception, its type and message, with its
   traceback as the run's error, and a ``failed`` alert) or **Canceled**; child runs the
   script left open end with it (Canceled, or Failed).

While the script runs, the supervisor samples its process tree's CPU, memory, disk and
network use (and the GPUs') every ``$RUNWIDGET_SYSTEM_METRICS_INTERVAL`` seconds into the
run's ``system/`` metrics (``runwidget/tracking/system_metrics.py``), and with each reaper
sweep looks for runs of its store that stopped responding (``runwidget/tracking/alerts.py``).

A cancel arrives as SIGTERM (from ``run.cancel()`` on this host) or as the run property
``runwidget.cancel_requested`` (from any host; checked every second). The supervisor then
sends SIGTERM to the script's process group and SIGKILL after ``RUNWIDGET_CANCEL_GRACE``
seconds. If the supervisor itself dies, its heartbeat stops: see ``reaper.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from runwidget import _settings
from runwidget import status as st
from runwidget.errors import StoreError
from runwidget.execution import _local, reaper
from runwidget.execution._process import ProcessId, boot_id, host_name, signal_name
from runwidget.execution.capture import LogRow, OutputPump
from runwidget.execution.slots import Slot, Ticket, ticket_path
from runwidget.store import RunStore, open_store
from runwidget.tracking import alerts
from runwidget.tracking._flusher import Flusher, flusher_for
from runwidget.tracking.context import ENV_RUN_ID, ENV_STORE, ENV_VERDICT_FILE
from runwidget.tracking.snapshot import SNAPSHOT_PATH
from runwidget.tracking.system_metrics import SystemMetricsThread

logger = logging.getLogger("runwidget.supervisor")

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")

# How often lines are written to the store: a poller sees a line at most about this late.
LOG_FLUSH_INTERVAL = 0.25
# Past this many unwritten lines the supervisor writes them itself before reading more, so
# a script printing faster than the store writes is slowed down rather than losing lines.
HIGH_WATER = 50_000
STORE_POLL_INTERVAL = 1.0
# After the script exits, how long its leftover children may keep its pipes open.
LINGER = 2.0
# How long to keep retrying the store for the final status and the last lines.
FINAL_WRITE_TIMEOUT = 600.0
MAX_TRACEBACK_LINES = 100
# The exception's message in the run's error is cut past this many characters.
MAX_MESSAGE_CHARS = 2000


class Supervisor:
    """One run's life. ``in_job``: run as the entrypoint of a cluster's job, whose engine
    queued it and unpacked its snapshot into the working directory already."""

    def __init__(
        self, run_id: str, store: RunStore, ticket: Path | None = None, in_job: bool = False
    ) -> None:
        self.run_id = run_id
        self.store = store
        self.in_job = in_job
        self.base = _local.exec_dir()
        if in_job:
            # The engine's copy of the snapshot may be shared by jobs of the same content
            # (Ray caches it by hash): each run works in a copy of its own.
            self.dir = Path(tempfile.mkdtemp(prefix=f"runwidget-{run_id[:40]}-"))
            self.workdir = self.dir / "work"
            shutil.copytree(Path.cwd(), self.workdir, symlinks=True)
        else:
            self.dir = _local.run_dir(run_id, self.base)
            self.workdir = self.dir / "work"
        self.ticket = ticket
        self.flusher: Flusher = flusher_for(store)
        self.flusher.interval = LOG_FLUSH_INTERVAL
        self.grace = _local.cancel_grace()
        self.stop_reason: str | None = None  # why the script is being stopped
        self.stop_at: float | None = None
        self.script_exited_at: float | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.slot: Slot | None = None
        self._keep_dir = False  # set when outputs could not be stored: they stay on disk
        self._last_store_poll = 0.0
        self._last_sweep = 0.0
        self._alert_watch = alerts.AlertWatch(store, interval=reaper.SWEEP_INTERVAL)
        self._system: SystemMetricsThread | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    # -- signals -------------------------------------------------------------------------
    def _install_signals(self) -> None:
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._request_stop(f"canceled ({signal_name(signum)} to the supervisor)")

    def _request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_at = time.time()
            logger.info("stopping run %s: %s", self.run_id, reason)

    def _poll_store(self, force: bool = False) -> None:
        """Notice a cancel asked through the store (from any host)."""
        now = time.monotonic()
        if not force and now - self._last_store_poll < STORE_POLL_INTERVAL:
            return
        self._last_store_poll = now
        try:
            record = self.store.get_run(self.run_id)
        except StoreError as e:
            logger.debug("cannot read run %s: %s", self.run_id, e)
            return
        if record.status in st.TERMINAL:
            self._request_stop(f"ended in the store ({record.status})")
        elif "runwidget.cancel_requested" in record.properties:
            self._request_stop("canceled (requested through the store)")
        if not self.in_job and now - self._last_sweep > reaper.SWEEP_INTERVAL:
            self._last_sweep = now
            reaper.reap_host(self.store)
            self._alert_watch.check()

    # -- the run -------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        try:
            return self._run()
        except BaseException as error:  # the run must not stay Running when we break
            logger.exception("supervisor of run %s failed", self.run_id)
            self._stop_system_metrics()
            self._kill_script()
            self._set_final(
                st.FAILED,
                {
                    "message": f"the run's supervisor failed: {type(error).__name__}: {error}",
                    "traceback": _format_exception(error),
                },
            )
            return 1
        finally:
            self.flusher.set_alive(self.run_id, False)
            if self.slot is not None:
                self.slot.release()
            self.flusher.close(timeout=30)

    def _run(self) -> int:
        me = ProcessId.of(os.getpid())
        self._update(
            properties={
                **me.as_properties("supervisor"),
                "runwidget.host": host_name(),
                "runwidget.boot_id": boot_id(),
                "runwidget.cancel_grace": self.grace,
            }
        )
        if self.in_job:
            self._update(properties=_job_node_properties())
        else:
            reaper.reap_host(self.store)
        self._last_sweep = time.monotonic()

        if not self.in_job and not self._wait_in_queue():
            return 0
        if not self._update(status=st.STARTING, started=time.time(), only_if_status=[st.QUEUED]):
            logger.info("run %s left the queue by another hand; not started", self.run_id)
            return 0
        self.flusher.set_alive(self.run_id, True)
        if not self.in_job:
            self._unpack_snapshot()
        self._poll_store(force=True)
        if self.stop_reason is not None:
            self._set_final(st.CANCELED, None)
            return 0
        returncode, pump = self._run_script()
        self._finalize(returncode, pump)
        return 0

    def _wait_in_queue(self) -> bool:
        record = self.store.get_run(self.run_id)
        path = self.ticket or ticket_path(self.base, self.run_id, record.created)
        if record.status != st.QUEUED:
            logger.info("run %s is %s, not Queued; nothing to do", self.run_id, record.status)
            path.unlink(missing_ok=True)
            return False
        limit = _local.max_local_runs()
        ticket = Ticket(path)

        def should_stop() -> bool:
            self._poll_store()
            return self.stop_reason is not None

        self.slot = ticket.wait_for_slot(self.base, limit, should_stop)
        if self.slot is None:
            self._update(status=st.CANCELED, ended=time.time(), only_if_status=[st.QUEUED])
            return False
        logger.info("run %s took local slot %d of %d", self.run_id, self.slot.number, limit)
        return True

    def _unpack_snapshot(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        _local.ensure_dir(self.workdir)
        data = self.store.read_file(self.run_id, SNAPSHOT_PATH)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                target = Path(archive.extract(info, self.workdir))
                mode = (info.external_attr >> 16) & 0o777
                if mode and not info.is_dir():
                    target.chmod(mode | 0o600)

    def _script_env(self) -> dict[str, str]:
        env = dict(os.environ)
        extra = env.pop(_local.ENV_SCRIPT_ENV, None)
        if extra:
            env.update(json.loads(extra))
        env[ENV_RUN_ID] = self.run_id
        env[ENV_STORE] = self.store.uri
        env[ENV_VERDICT_FILE] = str(self.dir / "verdict.json")
        # Children of the script (multiprocessing workers...) flush their output at once
        # too; the script itself is made line-buffered by the bootstrap. Output is read as
        # UTF-8 whatever the locale.
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("PYTHONIOENCODING", "utf-8")
        return env

    def _run_script(self) -> tuple[int, OutputPump]:
        record = self.store.get_run(self.run_id)
        script = str(record.properties["runwidget.script"])
        command = [sys.executable, str(BOOTSTRAP), script, *map(str, record.arguments)]
        self.process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=self._script_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            bufsize=0,
        )
        process = self.process
        assert process.stdout is not None and process.stderr is not None
        self._start_system_metrics(process.pid)
        self._update(
            status=st.RUNNING,
            properties=ProcessId.of(process.pid).as_properties("script"),
            only_if_status=[st.STARTING],
        )

        flusher, run_id = self.flusher, self.run_id

        def sink(rows: list[LogRow]) -> None:
            flusher.add_logs(run_id, rows)
            if flusher.pending() > HIGH_WATER:
                flusher.flush(timeout=10)

        pump = OutputPump(
            {process.stdout.fileno(): "stdout", process.stderr.fileno(): "stderr"},
            sink,
            wake_fd=self._wake_r,
        )
        term_sent = kill_at = linger_until = None
        while True:
            pump.poll(0.25)
            self._poll_store()
            now = time.time()
            returncode = process.poll()
            if returncode is not None and self.script_exited_at is None:
                self.script_exited_at = now
            if self.stop_reason is not None and term_sent is None and returncode is None:
                term_sent = now
                kill_at = now + self.grace
                self._signal_script(signal.SIGTERM)
            if kill_at is not None and now >= kill_at and returncode is None:
                logger.info("run %s: script still alive after %.1f s; SIGKILL", run_id, self.grace)
                self._signal_script(signal.SIGKILL)
                kill_at = None
            if returncode is not None:
                if not pump.open:
                    break
                # The script is gone but something it started still holds its output.
                if linger_until is None:
                    linger_until = now + LINGER
                elif now >= linger_until:
                    self._signal_script(signal.SIGKILL)
                    break
        pump.close()
        self._stop_system_metrics()
        process.stdout.close()
        process.stderr.close()
        # Whatever the script left behind in its process group goes with it.
        self._signal_script(signal.SIGTERM)
        return returncode, pump

    def _start_system_metrics(self, pid: int) -> None:
        interval = _settings.system_metrics_interval()
        if interval <= 0:
            return
        flusher, run_id = self.flusher, self.run_id
        self._system = SystemMetricsThread(
            lambda rows: flusher.add_metrics(run_id, rows), pid, interval
        ).start()

    def _stop_system_metrics(self) -> None:
        if self._system is not None:
            self._system.stop()
            self._system = None

    def _signal_script(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def _kill_script(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self._signal_script(signal.SIGKILL)

    def _finalize(self, returncode: int, pump: OutputPump) -> None:
        self._update(status=st.FINALIZING, only_if_status=[st.RUNNING, st.STARTING])
        self._upload_outputs()
        canceled = (
            self.stop_reason is not None
            and self.stop_at is not None
            and (self.script_exited_at is None or self.stop_at <= self.script_exited_at)
        )
        verdict = self._read_verdict()
        record = self.store.get_run(self.run_id)
        script = str(record.properties.get("runwidget.script", "the script"))
        if canceled:
            self._set_final(st.CANCELED, None)
        elif verdict.get("status") == st.FAILED:
            error = verdict.get("error") or {"message": "failed (run.fail() in the script)"}
            self._set_final(st.FAILED, error)
        elif returncode != 0:
            error = describe_failure(
                script, returncode, list(pump.stderr_tail), verdict.get("exception")
            )
            self._set_final(st.FAILED, error)
        elif verdict.get("status") == st.CANCELED:
            self._set_final(st.CANCELED, None)
        else:
            self._set_final(st.COMPLETED, None)

    def _read_verdict(self) -> dict[str, Any]:
        try:
            verdict = json.loads((self.dir / "verdict.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return verdict if isinstance(verdict, dict) else {}

    def _upload_outputs(self) -> None:
        """Store the files the script wrote under ``./outputs``, as the reference SDK did."""
        outputs = self.workdir / "outputs"
        if not outputs.is_dir():
            return
        from runwidget.tracking.run import Run
        from runwidget.tracking.workspace import Workspace

        run = Run.get(Workspace(self.store), self.run_id)
        skipped = run.upload_outputs(outputs)
        if skipped:
            text = "; ".join(skipped)
            self.flusher.add_logs(
                self.run_id,
                [("stderr", f"[runwidget] not stored with the run: {text}", time.time())],
            )
            self._keep_dir = True

    # -- store writes --------------------------------------------------------------------
    def _update(self, **changes: Any) -> bool:
        """``store.update_run`` retried while the store is unreachable."""
        updated: bool = _retry(lambda: self.store.update_run(self.run_id, **changes))
        return updated

    def _set_final(self, status: str, error: dict[str, Any] | None) -> None:
        self.flusher.set_alive(self.run_id, False)
        if not self.flusher.flush(FINAL_WRITE_TIMEOUT):
            logger.error("run %s: %d log lines could not be written", self.run_id,
                         self.flusher.pending())  # fmt: skip
        non_terminal = [s for s in st.ALL if s not in st.TERMINAL]
        reaper.end_open_children(self.store, self.run_id, status)
        ended = self._update(
            status=status, ended=time.time(), error=error, only_if_status=non_terminal
        )
        if ended and status == st.FAILED:
            alerts.run_failed(self.store, self.run_id, error, self._display_name())
        logger.info("run %s ended %s", self.run_id, status)

    def _display_name(self) -> str | None:
        try:
            return self.store.get_run(self.run_id).display_name
        except StoreError:
            return None

    def cleanup(self) -> None:
        if _local.keep_workdir() or self._keep_dir:
            return
        shutil.rmtree(self.dir, ignore_errors=True)


def _job_node_properties() -> dict[str, Any]:
    """Where a cluster's job runs, among runwidget's own properties: host and Ray's node id."""
    properties: dict[str, Any] = {"runwidget.node_host": host_name()}
    node_id = os.environ.get("RAY_NODE_ID")
    if node_id:
        properties["runwidget.ray_node_id"] = node_id
    return properties


def describe_failure(
    script: str, returncode: int, stderr_tail: list[str], exception: Any = None
) -> dict[str, Any]:
    """The run's error for a script that exited with ``returncode``: message and traceback.

    ``exception``: the script's uncaught exception as the bootstrap recorded it (type,
    message, traceback). Its type and message are the error's message, as the reference
    SDK showed them; without it, the last line of stderr is.
    """
    if returncode < 0:
        reason = f"{script} was killed by {signal_name(-returncode)}"
        if returncode == -signal.SIGKILL:
            reason += " (out of memory?)"
    else:
        reason = f"{script} exited with code {returncode}"
    recorded = _recorded_exception(exception)
    if recorded is not None and returncode > 0:
        summary, recorded_traceback = recorded
        return {"message": f"{summary} ({reason})", "traceback": recorded_traceback}
    lines = list(stderr_tail)
    while lines and not lines[-1].strip():
        lines.pop()
    start = None
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("Traceback (most recent call last):"):
            start = index
            break
    if start is not None:
        block = lines[start:]
        if len(block) > MAX_TRACEBACK_LINES:
            block = [block[0], "  ...", *block[-(MAX_TRACEBACK_LINES - 2) :]]
        traceback_text: str | None = "\n".join(block)
    else:
        traceback_text = "\n".join(lines[-20:]) or None
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    message = f"{last} ({reason})" if last else reason
    return {"message": message, "traceback": traceback_text}


def _recorded_exception(exception: Any) -> tuple[str, str | None] | None:
    """``"Type: message"`` on one line and the traceback, of a recorded exception."""
    if not isinstance(exception, dict) or not isinstance(exception.get("type"), str):
        return None
    message = exception.get("message")
    text = " ".join(line.strip() for line in str(message or "").splitlines() if line.strip())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    summary = f"{exception['type']}: {text}" if text else exception["type"]
    traceback_text = exception.get("traceback")
    if not isinstance(traceback_text, str) or not traceback_text.strip():
        return summary, None
    lines = traceback_text.rstrip("\n").splitlines()
    if len(lines) > MAX_TRACEBACK_LINES:
        lines = [lines[0], "  ...", *lines[-(MAX_TRACEBACK_LINES - 2) :]]
    return summary, "\n".join(lines)


def _retry(action: Any, timeout: float = FINAL_WRITE_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return action()
        except StoreError as e:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("run store unreachable (%s); retrying in %.1f s", e, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def _format_exception(error: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runwidget.execution.supervisor",
        description="Run one submitted script run (started by experiment.submit).",
    )
    parser.add_argument("run_id")
    parser.add_argument("--ticket", type=Path, default=None, help="its queue ticket")
    parser.add_argument(
        "--in-job", action="store_true", help="run as a cluster job's entrypoint (see compute)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    uri = os.environ.get(ENV_STORE)
    if not uri:
        parser.error(f"{ENV_STORE} must name the run's store")
    supervisor = Supervisor(args.run_id, open_store(uri), args.ticket, in_job=args.in_job)
    code = supervisor.run()
    supervisor.cleanup()
    alerts.flush(alerts.EXIT_TIMEOUT + alerts.WEBHOOK_TIMEOUT * alerts.WEBHOOK_ATTEMPTS)
    return code


if __name__ == "__main__":
    sys.exit(main())
