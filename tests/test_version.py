"""One version number: package.json's, which the Python package reads at build time."""

import json
from importlib.metadata import version
from pathlib import Path

import runwidget

ROOT = Path(__file__).resolve().parent.parent


def test_python_and_js_versions_agree() -> None:
    js = json.loads((ROOT / "package.json").read_text())["version"]
    assert version("runwidget") == js
    assert runwidget.__version__ == js


def test_python_and_js_chart_colours_agree() -> None:
    import re

    from runwidget.widgets._charts import COLOURS

    palette = (ROOT / "js" / "components" / "palette.js").read_text()
    assert re.findall(r'"(#[0-9a-f]{6})"', palette) == COLOURS
