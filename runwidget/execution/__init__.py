"""Local execution of submitted scripts.

``experiment.submit(ScriptRunConfig(...))`` creates the run (Queued), stores the snapshot of
the source folder with it, and starts a *supervisor* detached from the calling process (a
notebook kernel may restart; the run goes on). The supervisor waits for a free local slot
(at most ``RUNWIDGET_MAX_LOCAL_RUNS`` runs at once, the number of cores by default, oldest
submission first), runs the script in a copy of the snapshot with the submitting Python
interpreter, writes each line of its output into the store, beats the run's heartbeat, and
ends the run Completed, Failed or Canceled.

Modules: ``config`` (ScriptRunConfig, submission), ``supervisor`` (one run's life),
``capture`` (output lines), ``slots`` (the local queue), ``cancel`` (``run.cancel()``),
``reaper`` (runs whose supervisor died).
"""

from runwidget.execution import reaper  # noqa: F401 - provides runs' liveness checks
from runwidget.execution.config import ScriptRunConfig

__all__ = ["ScriptRunConfig"]
