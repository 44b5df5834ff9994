"""Images logged with ``run.log_image``: the gallery's entries, newest kept."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from runwidget.store import FileInfo

# Larger images are listed without their bytes (the gallery links to the portal instead).
MAX_INLINE_BYTES = 4 * 1024 * 1024


class Gallery:
    """The last ``limit`` images of a run.

    Args:
        limit: the most images kept.
        load: reads an image's bytes, to inline them as ``data:`` URLs (so that a saved
            notebook keeps them); None lists images without their bytes.
    """

    def __init__(self, limit: int = 48, load: Callable[[FileInfo], bytes] | None = None) -> None:
        self.limit = limit
        self.load = load
        self.cursor = 0
        self.total = 0
        self._images: dict[int, dict[str, Any]] = {}
        self._added: list[dict[str, Any]] = []
        self._removed: list[int] = []

    def add(self, files: list[FileInfo]) -> None:
        for info in files[-self.limit :]:
            self._images[info.seq] = item = self._item(info)
            self._added.append(item)
        self.total += len(files)
        if files:
            self.cursor = files[-1].seq
        while len(self._images) > self.limit:
            oldest = next(iter(self._images))
            del self._images[oldest]
            self._removed.append(oldest)

    def _item(self, info: FileInfo) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": info.seq,
            "name": info.name or info.path,
            "step": info.step,
            "path": info.path,
            "content_type": info.content_type,
            "size": info.size,
            "time": info.time,
            "src": None,
        }
        if self.load is not None and info.size <= MAX_INLINE_BYTES:
            data = self.load(info)
            encoded = base64.b64encode(data).decode("ascii")
            item["src"] = f"data:{info.content_type};base64,{encoded}"
        return item

    def __len__(self) -> int:
        """How many images the gallery holds (at most ``limit``)."""
        return len(self._images)

    def snapshot(self) -> list[dict[str, Any]]:
        return list(self._images.values())

    def take_changes(self) -> dict[str, Any] | None:
        added = [i for i in self._added if i["id"] in self._images]
        removed = [i for i in self._removed if i not in {a["id"] for a in self._added}]
        self._added, self._removed = [], []
        if not added and not removed:
            return None
        return {"add": added, "remove": removed}
