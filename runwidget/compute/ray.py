"""The ``ray`` target: each run is a Ray job (Ray Jobs API), watched live through the store.

The job's id is the run's id. Its ``working_dir`` is the run's snapshot; its entrypoint is
runwidget's in-job supervisor (``python -m runwidget.execution.supervisor RUN --in-job``), the
same capture code as a local run: output lines, heartbeat, ``Run.get_context()``, the final
status and traceback reach the store from inside the job. What the job cannot say itself —
waiting in Ray's queue, a runtime environment that fails before the supervisor starts, a stop,
a cluster that went away — a watcher process on the submitting machine reads from Ray
(``runwidget.compute.watch``), mapped by ``RAY_STATUSES``.

``import runwidget`` never imports Ray: this module imports it when a Ray target is used.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from runwidget import status as st
from runwidget._settings import cancel_grace, connect_timeout
from runwidget.compute.target import ComputeTarget, ComputeTargetError, register_kind
from runwidget.errors import InvalidValueError
from runwidget.store import redact_uri

if TYPE_CHECKING:
    from runwidget.execution.config import ScriptRunConfig
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run

T = TypeVar("T")
logger = logging.getLogger("runwidget")

# Ray's job states -> the run's status: the one table that maps them.
RAY_STATUSES: dict[str, str] = {
    "PENDING": st.QUEUED,
    "RUNNING": st.RUNNING,
    "STOPPED": st.CANCELED,
    "SUCCEEDED": st.COMPLETED,
    "FAILED": st.FAILED,
}

ENTRYPOINT_MODULE = "runwidget.execution.supervisor"
# A submission uploads the snapshot (up to RUNWIDGET_MAX_SNAPSHOT_BYTES) to the cluster.
SUBMIT_TIMEOUT = 120.0
# How long a submission waits for a just-started head's job agent.
AGENT_WAIT = 120.0
_CHATTY_LOGGERS = ("ray.dashboard.modules.dashboard_sdk", "ray._private.runtime_env.packaging")


@dataclass(frozen=True)
class RayAttachConfiguration:
    """What ``RayCompute.attach_configuration`` returns; ``ComputeTarget.attach`` records it."""

    address: str
    entrypoint_resources: dict[str, float] = field(default_factory=dict)
    entrypoint_num_cpus: float | None = None
    kind: str = "ray"

    def as_config(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "entrypoint_resources": self.entrypoint_resources,
            "entrypoint_num_cpus": self.entrypoint_num_cpus,
        }


@register_kind
class RayCompute(ComputeTarget):
    """A Ray cluster, reached through its dashboard's Jobs API (``http://head:8265``)."""

    kind = "ray"

    @staticmethod
    def attach_configuration(
        address: str,
        entrypoint_resources: Mapping[str, float] | None = None,
        entrypoint_num_cpus: float | None = None,
    ) -> RayAttachConfiguration:
        """How to reach the cluster.

        Args:
            address: the dashboard's address, ``http://host:8265``.
            entrypoint_resources: Ray resources each run's entrypoint asks for, to place runs
                on the nodes that have them (``{"gpu_node": 1}``).
            entrypoint_num_cpus: CPUs each run holds while it runs (Ray's default is 0, so
                every run starts at once); with 1, a cluster of N CPUs runs N at a time and
                the others read Queued while Ray holds them.

        Raises:
            InvalidValueError: the address is not an http(s) URL with a host, or a resource
                is not a name and a positive number.
        """
        if not isinstance(address, str) or not address.strip():
            raise InvalidValueError(f"Ray address must be a URL string, got {address!r:.80}")
        address = address.strip().rstrip("/")
        if "://" not in address:
            address = f"http://{address}"
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidValueError(
                f"Ray address {address!r} must be the dashboard's http(s) URL, such as "
                "http://head:8265"
            )
        resources: dict[str, float] = {}
        for name, amount in dict(entrypoint_resources or {}).items():
            if not isinstance(name, str) or not name or not isinstance(amount, (int, float)):
                raise InvalidValueError(
                    f"entrypoint_resources must map names to numbers, got {name!r}: {amount!r}"
                )
            if not amount > 0:
                raise InvalidValueError(f"entrypoint resource {name!r} must be > 0, got {amount}")
            resources[name] = float(amount)
        if entrypoint_num_cpus is not None and (
            isinstance(entrypoint_num_cpus, bool)
            or not isinstance(entrypoint_num_cpus, (int, float))
            or not entrypoint_num_cpus >= 0
        ):
            raise InvalidValueError(
                f"entrypoint_num_cpus must be a number >= 0, got {entrypoint_num_cpus!r}"
            )
        cpus = None if entrypoint_num_cpus is None else float(entrypoint_num_cpus)
        return RayAttachConfiguration(address, resources, cpus)

    # -- reaching the cluster ---------------------------------------------------------------
    @property
    def address(self) -> str:
        return str(self.config["address"])

    def check_reachable(self) -> None:
        """Raises ``ComputeTargetError`` unless the dashboard answers within the connect
        timeout (``RUNWIDGET_CONNECT_TIMEOUT``)."""
        timeout = connect_timeout()
        try:
            with urllib.request.urlopen(f"{self.address}/api/version", timeout=timeout) as r:
                json.loads(r.read() or b"{}")
        except (OSError, ValueError, urllib.error.URLError) as e:
            reason = getattr(e, "reason", e)
            raise ComputeTargetError(
                f"Ray cluster {self.name!r} at {self.address} is unreachable within "
                f"{timeout:g} s ({reason}); is its head running (ray start --head) and is the "
                "dashboard's port open?"
            ) from None

    def client(self) -> Any:
        """A ``ray.job_submission.JobSubmissionClient`` on this cluster.

        Raises:
            ComputeTargetError: Ray is not installed, or the cluster is unreachable.
        """
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError:
            raise ComputeTargetError(
                "the Ray target needs Ray on this machine: pip install 'runwidget[ray]'"
            ) from None
        # Ray's client logs each package upload at INFO on the notebook's stderr.
        for name in _CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        self.check_reachable()
        return self.call(lambda: JobSubmissionClient(self.address), "connect")

    def call(self, action: Callable[[], T], what: str, timeout: float | None = None) -> T:
        """``action()`` (a Jobs API call), given up after ``timeout`` (the connect timeout by
        default): the client's own requests have no limit, and a silent head must not hang
        a notebook."""
        timeout = connect_timeout() if timeout is None else timeout
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="runwidget-ray")
        future = pool.submit(action)
        pool.shutdown(wait=False)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise ComputeTargetError(
                f"Ray cluster {self.name!r} at {self.address} did not answer within "
                f"{timeout:g} s ({what})"
            ) from None
        except Exception as e:
            if isinstance(e, ComputeTargetError):
                raise
            raise ComputeTargetError(
                f"Ray cluster {self.name!r} at {self.address}: {what} failed: {e}"
            ) from e

    def job_info(self, run_id: str, client: Any = None) -> Any:
        client = client or self.client()
        return self.call(lambda: client.get_job_info(run_id), "job status")

    # -- the interface -----------------------------------------------------------------------
    def submit(self, config: ScriptRunConfig, experiment: Experiment, tags: Any) -> Run:
        from runwidget.execution.config import launch_watcher, prepare_cluster_run

        store_uri = self._store_uri_for_cluster(experiment.workspace.store.uri)
        client = self.client()
        run, workdir, env_vars = prepare_cluster_run(config, experiment, tags, self)
        try:
            runtime_env: dict[str, Any] = {"working_dir": str(workdir), "env_vars": env_vars}
            env_vars["RUNWIDGET_STORE"] = store_uri
            environment = config.environment
            if environment is not None and environment.installs_packages():
                runtime_env["pip"] = list(environment.pip_requirements or [])
            resources = self.config.get("entrypoint_resources") or None
            entrypoint = f"python -m {ENTRYPOINT_MODULE} {run.id} --in-job"
            self._submit_when_ready(
                lambda: client.submit_job(
                    entrypoint=entrypoint,
                    submission_id=run.id,
                    runtime_env=runtime_env,
                    entrypoint_resources=resources,
                    entrypoint_num_cpus=self.config.get("entrypoint_num_cpus"),
                    metadata={
                        "runwidget_run_id": run.id,
                        "runwidget_experiment": run.experiment.name,
                    },
                ),
            )
            launch_watcher(run, store_uri)
        except BaseException as error:
            from runwidget.execution.config import _abandon

            _abandon(run, error)
            raise
        finally:
            shutil.rmtree(workdir.parent, ignore_errors=True)
        return run

    def _submit_when_ready(self, submit: Callable[[], Any]) -> None:
        """``submit()``, again while the cluster says it has no job agent yet (a head that
        has just started), for up to ``AGENT_WAIT`` seconds."""
        deadline = time.monotonic() + AGENT_WAIT
        while True:
            try:
                self.call(submit, "submit", timeout=max(SUBMIT_TIMEOUT, connect_timeout()))
                return
            except ComputeTargetError as e:
                if "No available agent" not in str(e) or time.monotonic() > deadline:
                    raise
            time.sleep(1.0)

    def status(self, run: Run) -> str | None:
        info = self.job_info(run.id)
        return RAY_STATUSES.get(str(getattr(info.status, "value", info.status)))

    def cancel(self, run: Run) -> str:
        """Stop the job: Ray sends SIGTERM to the supervisor and the script, SIGKILL a few
        seconds later; the supervisor ends the run Canceled (the watcher does, if it cannot)."""
        store = run.store
        now = time.time()
        store.update_run(run.id, status=st.CANCELED, ended=now, only_if_status=[st.QUEUED])
        alive = [s for s in st.ALL if s not in st.TERMINAL]
        store.update_run(run.id, properties={"runwidget.cancel_requested": now},
                         only_if_status=alive)  # fmt: skip
        try:
            client = self.client()
            self.call(lambda: client.stop_job(run.id), "stop job")
        except ComputeTargetError as e:
            # The job's supervisor reads the request from the store all the same.
            logger.warning("runwidget: %s; the run stops through the store's cancel request", e)
        deadline = time.monotonic() + cancel_grace() + 10
        while time.monotonic() < deadline:
            record = store.get_run(run.id)
            if record.status in st.TERMINAL:
                return record.status
            time.sleep(0.2)
        return store.get_run(run.id).status

    def describe(self) -> dict[str, Any]:
        try:
            self.check_reachable()
            reachable, problem = True, None
        except ComputeTargetError as e:
            reachable, problem = False, str(e)
        return {"name": self.name, "kind": self.kind, "address": self.address,
                "reachable": reachable, "problem": problem,
                "entrypoint_resources": self.config.get("entrypoint_resources") or {}}  # fmt: skip

    # -- the store, seen from the cluster ---------------------------------------------------
    def _store_uri_for_cluster(self, uri: str) -> str:
        """The store URI the job writes to; an SQLite store only works on this host.

        Raises:
            InvalidValueError: an SQLite store and a cluster on another machine.
        """
        url = make_url(uri)
        if url.get_backend_name() != "sqlite":
            return url.render_as_string(hide_password=False)
        host = urlsplit(self.address).hostname or ""
        if not _is_this_host(host):
            raise InvalidValueError(
                f"run store {redact_uri(uri)} is an SQLite file on this machine, which the Ray "
                f"cluster at {self.address} cannot open; use a PostgreSQL store that both reach "
                "(Workspace('postgresql://user@host/db')), or a cluster on this machine"
            )
        database = str(Path(url.database or "").resolve())
        return url.set(database=database).render_as_string(hide_password=False)


def _is_this_host(host: str) -> bool:
    if host in ("localhost", "127.0.0.1", "::1", socket.gethostname()):
        return True
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        own = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        return False
    return bool(addresses & (own | {"127.0.0.1", "::1"}))
