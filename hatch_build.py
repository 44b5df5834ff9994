"""Build hook: bundle the JS front end (``npm run build``) when the bundle is missing or
older than its sources, so that ``pip install`` needs no manual step.

Set ``RUNWIDGET_SKIP_JS=1`` to build without it (the widget then has no front end).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUNDLE = Path("runwidget", "static", "widget.js")


class JsBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if os.environ.get("RUNWIDGET_SKIP_JS"):
            return
        root = Path(self.root)
        if not (root / "js").is_dir():
            return  # an sdist ships the built bundle without the JS sources
        bundle = root / BUNDLE
        if bundle.exists() and bundle.stat().st_mtime >= _newest_source(root):
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                f"building runwidget needs npm to bundle its front end into {BUNDLE} "
                "(install Node.js 18 or newer), or set RUNWIDGET_SKIP_JS=1 to skip it"
            )
        if not (root / "node_modules" / ".bin" / "esbuild").exists():
            # Not `npm ci`: it refuses a lock file that lacks optional packages for other
            # platforms (e.g. rspack's), which some registries do not serve.
            self.app.display_info("runwidget: npm install")
            subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=root,
                check=True,
            )
        self.app.display_info("runwidget: npm run build")
        subprocess.run([npm, "run", "build"], cwd=root, check=True)


def _newest_source(root: Path) -> float:
    files = [p for p in (root / "js").rglob("*") if p.is_file() and "test" not in p.parts]
    files += [root / "package.json", root / "package-lock.json"]
    return max((p.stat().st_mtime for p in files if p.exists()), default=0.0)
