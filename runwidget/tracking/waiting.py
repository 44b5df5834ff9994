"""``run.wait_for_completion``: wait for a run to end, streaming its output log."""

from __future__ import annotations

import time
from typing import IO, TYPE_CHECKING, Any

from runwidget import status as st
from runwidget.tracking import _portal

if TYPE_CHECKING:
    from runwidget.tracking.run import Run

# With show_output, a run still Queued after this many seconds gets a line saying so.
QUEUED_NOTICE_AFTER = 2.0


def wait_for_completion(
    run: Run,
    *,
    show_output: bool,
    raise_on_error: bool,
    poll_interval: float,
    file: IO[str],
) -> dict[str, Any]:
    store = run.store
    cursor = 0

    def print_new_lines() -> None:
        nonlocal cursor
        while True:
            lines = store.read_logs(run.id, since=cursor, limit=5000)
            if not lines:
                return
            file.write("".join(line.text + "\n" for line in lines))
            cursor = lines[-1].seq
            file.flush()

    if show_output:
        file.write(f"RunId: {run.id}\nWeb View: {run.get_portal_url()}\n")
        hint = _portal.portal_hint(store.uri)
        if hint:
            file.write(f"({hint})\n")
        file.write("\n")
        file.write("Streaming the output log\n========================\n\n")
        file.flush()
    not_responding = False
    said_queued = False
    started = time.monotonic()
    try:
        while True:
            # get_status, not the stored status: it reads NotResponding when the heartbeat
            # stopped and, on the run's host, marks a run whose supervisor died Failed.
            status = run.get_status()
            if show_output:
                print_new_lines()
            if status in st.TERMINAL:
                break
            if status == st.NOT_RESPONDING and not not_responding:
                not_responding = True
                file.write(
                    f"\n[run {run.id} is not responding: no heartbeat for "
                    f"{_duration(time.time() - (run.record.heartbeat or time.time()))}; "
                    "still waiting]\n"
                )
                file.flush()
            elif status != st.NOT_RESPONDING and not_responding:
                not_responding = False
                file.write(f"\n[run {run.id} is responding again]\n")
                file.flush()
            queued_long = time.monotonic() - started > QUEUED_NOTICE_AFTER
            if show_output and status == st.QUEUED and queued_long and not said_queued:
                said_queued = True
                target = run.record.target
                where = "a free local slot" if target == "local" else f"the {target!r} cluster"
                file.write(f"[run {run.id} is Queued: waiting for {where}]\n")
                file.flush()
            time.sleep(poll_interval)
    except KeyboardInterrupt:
        status = run.refresh().current_status()
        hint = "" if status in st.TERMINAL else "; run.cancel() stops it"
        file.write(f"\nStopped waiting. Run {run.id} goes on ({status}){hint}.\n")
        file.flush()
        return run.get_details()
    if show_output:
        print_new_lines()
        file.write(_summary(run))
        file.flush()
    if raise_on_error:
        run.raise_if_failed()
    return run.get_details()


def _summary(run: Run) -> str:
    r = run.record
    lines = ["", "Execution Summary", "=================", f"RunId: {r.id}", f"Status: {r.status}"]
    if r.started is not None and r.ended is not None:
        lines.append(f"Duration: {_duration(r.ended - r.started)}")
    if r.error:
        lines.append(f"Error: {r.error.get('message', '')}")
    lines.append(f"Web View: {run.get_portal_url()}")
    return "\n".join(lines) + "\n\n"


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
