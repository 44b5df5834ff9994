"""``run.wait_for_completion``: wait for a run to end, streaming its output log."""

from __future__ import annotations

import time
from typing import IO, TYPE_CHECKING, Any

from runwidget import status as st

if TYPE_CHECKING:
    from runwidget.tracking.run import Run


def wait_for_completion(
    run: Run,
    *,
    show_output: bool,
    raise_on_error: bool,
    poll_interval: float,
    file: IO[str],
) -> dict[str, Any]:
    store = run._store
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
        file.write(f"RunId: {run.id}\nWeb View: {run.get_portal_url()}\n\n")
        file.write("Streaming the output log\n========================\n\n")
        file.flush()
    warned_not_responding = False
    try:
        while True:
            record = run.refresh()
            status = record.current_status()
            if show_output:
                print_new_lines()
            if status in st.TERMINAL:
                break
            if status == st.NOT_RESPONDING and not warned_not_responding:
                warned_not_responding = True
                file.write(f"\n[run {run.id} is not responding: no heartbeat for a while]\n")
            time.sleep(poll_interval)
    except KeyboardInterrupt:
        file.write(f"\nStopped waiting. Run {run.id} goes on ({run.refresh().current_status()}).\n")
        file.flush()
        return run.get_details()
    if show_output:
        print_new_lines()
        file.write(_summary(run))
        file.flush()
    if raise_on_error:
        run._raise_if_failed()
    return run.get_details()


def _summary(run: Run) -> str:
    r = run._record
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
