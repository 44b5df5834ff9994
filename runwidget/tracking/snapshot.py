"""Snapshots: a zip of a source folder, stored with the run."""

from __future__ import annotations

import fnmatch
import io
import os
import zipfile
from pathlib import Path

from runwidget import _settings
from runwidget.errors import InvalidValueError

ALWAYS_IGNORED = (".git", "__pycache__", ".ipynb_checkpoints", ".runwidget")
IGNORE_FILE = ".runwidgetignore"
# Also read: the reference SDK's ignore file, so its users' folders snapshot as before.
IGNORE_FILES = (IGNORE_FILE, ".amlignore")
SNAPSHOT_PATH = "snapshot.zip"


def _ignore_patterns(root: Path) -> list[str]:
    patterns: list[str] = []
    for name in IGNORE_FILES:
        ignore = root / name
        if not ignore.is_file():
            continue
        lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                # "/data" and "data/" (gitignore forms) name the folder at the top.
                patterns.append(line.rstrip("/").lstrip("/") or line)
    return patterns


def _ignored(relative: str, name: str, patterns: list[str]) -> bool:
    return name in ALWAYS_IGNORED or any(
        fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in patterns
    )


def snapshot_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The files a snapshot of ``directory`` holds, relative to it, sorted.

    Raises:
        InvalidValueError: ``directory`` is not a directory, or the files exceed the cap.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InvalidValueError(f"source directory {str(directory)!r} is not a directory")
    patterns = _ignore_patterns(root)
    found: list[Path] = []
    total = 0
    cap = _settings.max_snapshot_bytes()
    for folder, dirs, names in os.walk(root):
        rel_folder = Path(folder).relative_to(root)
        dirs[:] = [d for d in dirs if not _ignored((rel_folder / d).as_posix(), d, patterns)]
        for name in names:
            relative = rel_folder / name
            if _ignored(relative.as_posix(), name, patterns):
                continue
            total += (root / relative).stat().st_size
            if total > cap:
                raise InvalidValueError(
                    f"source directory {str(directory)!r} holds more than "
                    f"{_size(cap)} of files (the snapshot cap). "
                    f"List large files or folders in {IGNORE_FILE}, or raise "
                    "RUNWIDGET_MAX_SNAPSHOT_BYTES."
                )
            found.append(relative)
    return sorted(found)


def take_snapshot(directory: str | os.PathLike[str]) -> bytes:
    """A zip of ``directory`` without ignored files."""
    root = Path(directory)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in snapshot_files(root):
            archive.write(root / relative, relative.as_posix())
    return buffer.getvalue()


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"
