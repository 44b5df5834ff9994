"""The registered models in the portal: the Models page and its API, for both web servers.

``GET models[?name=]`` lists every version (newest first) with its files;
``GET models/NAME/VERSION/download`` sends a file model's file, or a zip of a folder
model's files. A model's files are its run's files (``runwidget.tracking.model``).
"""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

from tornado import web

from runwidget.errors import ModelNotFoundError
from runwidget.server.handlers import ApiMixin, _send_file
from runwidget.server.pages import PageMixin
from runwidget.store import RunStore
from runwidget.store.records import ModelRecord
from runwidget.tracking.model import check_model_name, model_files

# More versions than this are listed without their files (the page says how many).
MAX_LISTED = 2000


def model_json(store: RunStore, record: ModelRecord, files: bool = True) -> dict[str, Any]:
    found = model_files(store, record.run_id, record.path) if files and record.run_id else []
    return {
        "id": f"{record.name}:{record.version}",
        "name": record.name,
        "version": record.version,
        "run_id": record.run_id,
        "experiment": record.experiment,
        "path": record.path,
        "tags": record.tags,
        "properties": record.properties,
        "description": record.description,
        "created": record.created,
        "files": [{"path": f.path, "size": f.size} for f in found],
        "size": sum(f.size for f in found),
    }


def list_models(store: RunStore, name: str | None) -> dict[str, Any]:
    if name is not None:
        name = check_model_name(name, "name")
    records = store.list_models(name)
    shown = records[:MAX_LISTED]
    return {
        "models": [model_json(store, r) for r in shown],
        "total": len(records),
        "names": len({r.name for r in records}),
        "time": time.time(),
    }


def model_download(store: RunStore, name: str, version: str) -> tuple[bytes, str, str]:
    """The bytes to send, their content type and a file name."""
    record = store.get_model(check_model_name(name, "name"), int(version))
    files = model_files(store, record.run_id, record.path) if record.run_id else []
    if not files:
        raise FileNotFoundError(f"model {name}:{version} has no stored file at {record.path!r}")
    base = record.path.rstrip("/")
    if len(files) == 1 and files[0].path == base:
        return (
            store.read_file(record.run_id, base),  # type: ignore[arg-type]
            files[0].content_type,
            base.rpartition("/")[2],
        )
    parent = base.rpartition("/")[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in files:
            inside = f.path[len(parent) + 1 :] if parent else f.path
            archive.writestr(inside, store.read_file(record.run_id, f.path))  # type: ignore[arg-type]
    return buffer.getvalue(), "application/zip", f"{record.name}-{record.version}.zip"


class ModelsHandler(ApiMixin):
    """``GET models?name=``: registered models, newest first."""

    async def get(self) -> None:
        name = self.get_argument("name", None) or None
        self.finish_json(await self.blocking(list_models, self.service.store, name))


class ModelDownloadHandler(ApiMixin):
    """``GET models/NAME/VERSION/download``: the model's file, or a zip of its folder."""

    async def get(self, name: str, version: str) -> None:
        try:
            data, content_type, filename = await self.blocking(
                model_download, self.service.store, name, version
            )
        except ModelNotFoundError as e:
            raise web.HTTPError(404, e.args[0]) from e
        _send_file(self, data, content_type, filename, True)


class ModelsPage(PageMixin):
    """The Models page (``models?name=NAME``: one model's versions)."""

    page = "models"

    def get(self) -> None:
        self.render_page(name=self.get_argument("name", None))


MODEL_API_ROUTES: list[tuple[str, type]] = [
    (r"models", ModelsHandler),
    (r"models/(?P<name>[^/]+)/(?P<version>[0-9]+)/download", ModelDownloadHandler),
]
MODEL_PAGE_ROUTES: list[tuple[str, type]] = [(r"/models", ModelsPage)]
