"""What ``import runwidget`` costs: no Ray, no widget stack (scripts and supervisors import it)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_import_runwidget_loads_neither_ray_nor_the_widgets():
    code = (
        "import json, sys, runwidget\n"
        "print(json.dumps([m for m in ('ray', 'ipywidgets', 'bqplot', 'anywidget') "
        "if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_run_details_is_still_importable_from_the_package():
    from runwidget import RunDetails
    from runwidget.widgets import RunDetails as Widget

    assert RunDetails is Widget
