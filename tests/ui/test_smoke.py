"""The harness can drive JupyterLab and Notebook 7: open a notebook, run it, read its output."""

import pytest
from playwright.sync_api import expect


@pytest.mark.parametrize("kind", ["lab", "notebook"])
def test_run_all_shows_output(jupyter_server, page, screenshot, kind: str) -> None:
    server = jupyter_server(kind)
    name = f"smoke-{kind}.ipynb"
    server.write_notebook(name, "print(6*7)")

    server.open_notebook(page, name)
    server.run_all(page)

    # The first run also starts the kernel, hence the generous timeout.
    expect(page.locator(".jp-OutputArea-output")).to_have_text("42", timeout=60_000)
    screenshot(page, f"smoke-{kind}")
