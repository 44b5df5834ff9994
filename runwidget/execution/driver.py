"""A supervised run whose script is one of runwidget's own loops: an AutoML search, a sweep.

Such a run goes through the same submission as a user's script. What differs is written
once here: a two-line driver script that calls the loop's ``main``, the run properties the
loop's view reads, and a cancel grace that covers the loop's own work (unless the user set
``RUNWIDGET_CANCEL_GRACE``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runwidget.execution import _local
from runwidget.execution.config import ScriptRunConfig


class DriverRunConfig(ScriptRunConfig):
    """A folder holding a driver script, submitted with ``properties`` and ``grace``."""

    def __init__(
        self,
        folder: Path,
        script: str,
        properties: dict[str, Any],
        grace: float,
        compute_target: Any = None,
    ) -> None:
        super().__init__(folder, script, compute_target=compute_target)
        self._properties = dict(properties)
        self._grace = grace

    def run_properties(self) -> dict[str, Any]:
        return dict(self._properties)

    def _grace_env(self) -> dict[str, str]:
        """The loop's cancel grace for its supervisor, unless the user chose one."""
        if os.environ.get(_local.ENV_CANCEL_GRACE, "").strip():
            return {}
        return {_local.ENV_CANCEL_GRACE: f"{self._grace:g}"}

    def _supervisor_env(self, store_uri: str) -> dict[str, str]:
        return {**super()._supervisor_env(store_uri), **self._grace_env()}


def write_driver(folder: Path, script: str, module: str, what: str) -> None:
    """Write ``folder/script``: a driver that runs ``module.main()`` (its snapshot says what
    ran, as a user's script does)."""
    (folder / script).write_text(
        f'"""{what}"""\n\nfrom {module} import main\n\n'
        'if __name__ == "__main__":\n    raise SystemExit(main())\n',
        encoding="utf-8",
    )
