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


def test_python_and_js_read_one_palette() -> None:
    from runwidget.view.palette import SERIES

    palette = (ROOT / "js" / "components" / "palette.js").read_text()
    assert 'from "../../runwidget/view/palette.json"' in palette
    defined = json.loads((ROOT / "runwidget" / "view" / "palette.json").read_text())
    assert defined["series"] == SERIES
