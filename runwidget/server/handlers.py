"""The REST API's request handlers, written once for both web servers.

Each handler here is a mixin that only reads arguments, calls ``RunService`` in a worker
thread and writes the answer. ``routes`` joins them with a base class that authenticates:
Jupyter's ``APIHandler`` in the server extension (``runwidget.server.extension``), the
token-checking base of the standalone portal (``runwidget.server.standalone``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import json
import logging
import math
import mimetypes
import re
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from tornado import web
from tornado.iostream import StreamClosedError

from runwidget.errors import (
    InvalidValueError,
    MetricNotFoundError,
    RunNotFoundError,
    StoreError,
    StoreUnavailableError,
)
from runwidget.server.service import RunService

T = TypeVar("T")

if TYPE_CHECKING:
    # The mixins below are joined with a tornado handler class (see ``routes``): checked as
    # one, so that their calls of its methods are checked too.
    MixinBase = web.RequestHandler
else:
    MixinBase = object

app_log = logging.getLogger("tornado.application")
gen_log = logging.getLogger("tornado.general")

# Images a browser may show inline from our origin; everything else is downloaded, and
# nothing is sniffed: a stored HTML or SVG file must never run as a page of this server.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
RUN_ID = r"(?P<run_id>[^/]+)"


# A "token" query parameter, also percent-encoded inside another parameter (``next=``).
_TOKEN_PARAM = re.compile(r"(?i)((?:^|[?&;]|%3F|%26|%3B)token(?:=|%3D))(?:(?!%26|%3B)[^&;#\s])*")


def redact_tokens(text: str) -> str:
    """``text`` (a URL, a log line) with the value of every ``token`` parameter hidden."""
    return _TOKEN_PARAM.sub(r"\1[redacted]", text)


_SEPARATORS = (",", ":")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def json_text(data: Any) -> str:
    """The JSON of every answer: NaN and infinities, which JSON lacks, become the strings
    ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (a tag, a property or a metric may hold
    them); the front end draws them as text.

    Encoded whole where it holds none; else a list or string-keyed dict is encoded item by
    item, and only the items that hold one again, down to the value: one NaN in a page of
    500 runs' metrics costs its row, not a walk of the whole answer (42 -> 23 ms, 18 of
    them the one encoding that any answer of that size takes)."""
    try:
        return json.dumps(data, allow_nan=False, separators=_SEPARATORS)
    except ValueError:
        pass
    if isinstance(data, (list, tuple)):
        return "[" + ",".join(json_text(v) for v in data) + "]"
    if isinstance(data, dict) and all(isinstance(k, str) for k in data):
        return "{" + ",".join(json.dumps(k) + ":" + json_text(v) for k, v in data.items()) + "}"
    return json.dumps(_finite(data), allow_nan=False, separators=_SEPARATORS)


def request_summary(request: Any) -> str:
    """``GET /path?query (ip)`` for a log line, without a token."""
    return f"{request.method} {redact_tokens(request.uri or '')} ({request.remote_ip})"


class LogMixin(MixinBase):
    """Log lines of a request without the token its URL may hold."""

    def _request_summary(self) -> str:
        return request_summary(self.request)

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # As tornado's, without the request's repr (it holds the URL as sent).
        if isinstance(value, web.HTTPError):
            message = _http_message(value)
            if message:
                gen_log.warning("%d %s: %s", value.status_code, self._request_summary(), message)
        else:
            app_log.error(
                "Uncaught exception %s",
                self._request_summary(),
                exc_info=(typ, value, tb),  # type: ignore[arg-type]
            )


class ServiceMixin(LogMixin):
    """Shared by every runwidget handler: the service and error mapping."""

    _service: RunService | None = None

    @property
    def service(self) -> RunService:
        """The service; API handlers wait for it in ``prepare``."""
        service = self._service or self.settings["runwidget_service"].ready
        if service is None:
            raise web.HTTPError(503, "the run store is not open yet")
        return service

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in the service's worker threads, errors as HTTP errors."""
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        try:
            return await loop.run_in_executor(self.service_executor, call)
        except (RunNotFoundError, MetricNotFoundError, FileNotFoundError) as e:
            raise web.HTTPError(404, _message(e)) from e
        except InvalidValueError as e:
            raise web.HTTPError(400, _message(e)) from e
        except StoreUnavailableError as e:
            raise web.HTTPError(503, _message(e)) from e
        except StoreError as e:
            raise web.HTTPError(500, f"run store error: {e}") from e

    @property
    def service_executor(self) -> Any:
        return self.settings["runwidget_executor"]


def _http_message(e: web.HTTPError) -> str | None:
    if e.log_message and e.args:
        return e.log_message % e.args
    return e.log_message


def _message(e: BaseException) -> str:
    # KeyError-like exceptions quote their message; runwidget's are plain.
    return e.args[0] if e.args and isinstance(e.args[0], str) else str(e)


class ApiMixin(ServiceMixin):
    """JSON answers; errors as ``{"error", "message", "reason"}`` (``message`` is
    Jupyter's name for it, ``error`` the same text)."""

    async def prepare(self) -> None:
        # The base class authenticates first; then the store is opened if it is not yet.
        ready = super().prepare()
        if inspect.isawaitable(ready):
            await ready
        if getattr(self, "_finished", False):
            return
        try:
            self._service = await self.settings["runwidget_service"].get()
        except StoreError as e:
            raise web.HTTPError(503, _message(e)) from e

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = (_http_message(exc) if isinstance(exc, web.HTTPError) else None) or reason
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json_text({"error": message, "message": message, "reason": reason}))

    def finish_raw(self, data: bytes | str | None = b"") -> None:
        """Finish with the content type already set (Jupyter's API finish forces JSON)."""
        activity = getattr(self, "update_api_activity", None)
        if activity is not None:
            activity()
        web.RequestHandler.finish(self, data)

    def finish_json(self, data: Any) -> None:
        """Send an answer; a GET whose answer is what the client holds (``If-None-Match``
        equal to its ETag) gets ``304 Not Modified`` and no body. The answer's ``time``
        (when it was made) is left out of the ETag."""
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        # Browsers may keep it, but must ask (with the ETag) before each use.
        self.set_header("Cache-Control", "no-cache")
        made = data.pop("time", None) if isinstance(data, dict) else None
        if made is not None:  # read by clients from a 304 too (its body is the one they hold)
            self.set_header("X-Runwidget-Time", repr(float(made)))
        body = json_text(data)
        if self.request.method == "GET":
            self.set_header("Etag", '"' + hashlib.sha1(body.encode()).hexdigest() + '"')
            if self.check_etag_header():
                self.set_status(304)
                self.clear_header("Content-Type")
                self.finish_raw(None)
                return
        if made is not None:
            # The same text as json_text(data with time), without encoding it twice.
            body = body[:-1] + ("," if len(body) > 2 else "") + f'"time":{json_text(made)}}}'
        self.finish(body)

    async def stream(self, pages: Iterator[str]) -> None:
        """Write and flush each text of ``pages`` (read in a worker thread), then finish."""
        while True:
            text = await self.blocking(next, pages, None)
            if text is None:
                break
            self.write(text)
            await self.flush()
        self.finish_raw()

    def int_argument(self, name: str, default: int | None = None) -> int | None:
        raw = self.get_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise web.HTTPError(400, f"{name} must be an integer, got {raw!r}") from None


class StatusHandler(ApiMixin):
    async def get(self) -> None:
        self.finish_json(await self.blocking(self.service.status))


class ExperimentsHandler(ApiMixin):
    async def get(self) -> None:
        self.finish_json(await self.blocking(self.service.experiments))


class RunsHandler(ApiMixin):
    """``GET runs?experiment=&parent=none|ID&status=active|ended|A,B&q=&target=&tag=a,b
    &offset=&after=&limit=&since=&stats=primary|*|a,b``."""

    async def get(self) -> None:
        answer = await self.blocking(
            self.service.runs,
            experiment=self.get_argument("experiment", None),
            parent=self.get_argument("parent", None),
            status=self.get_argument("status", None),
            search=self.get_argument("q", None),
            since=self.int_argument("since"),
            offset=self.int_argument("offset", 0),
            limit=self.int_argument("limit"),
            stats=self.get_argument("stats", None),
            target=self.get_argument("target", None),
            tag=self.get_argument("tag", None),
            after=self.get_argument("after", None),
        )
        self.finish_json(answer)


class TargetsHandler(ApiMixin):
    """``GET targets``: the compute targets, whether each answers, and its runs' counts."""

    async def get(self) -> None:
        self.finish_json(await self.blocking(self.service.targets))


class RunHandler(ApiMixin):
    async def get(self, run_id: str) -> None:
        self.settings["runwidget_changes"].watch(run_id)
        self.finish_json(await self.blocking(self.service.run, run_id))


class ViewHandler(ApiMixin):
    """``GET runs/ID/view?epoch=&version=``: the view model, or its deltas since then."""

    async def get(self, run_id: str) -> None:
        epoch = self.get_argument("epoch", None)
        version = self.int_argument("version")
        self.settings["runwidget_changes"].watch(run_id)
        self.finish_json(await self.blocking(self.service.view, run_id, epoch, version))


class EventsHandler(ApiMixin):
    """``GET events``: server-sent events, one per change the store's change feed sees
    (runwidget/server/changes.py), and a comment line every ``KEEPALIVE`` seconds."""

    KEEPALIVE = 15.0

    async def get(self) -> None:
        self.set_header("Content-Type", "text/event-stream; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")  # a proxy in front must not hold them
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)

        def put(event: dict[str, Any]) -> None:
            if not queue.full():  # a reader that fell behind reloads anyway
                queue.put_nowait(event)

        unsubscribe = self.settings["runwidget_changes"].subscribe(
            lambda event: loop.call_soon_threadsafe(put, event)
        )
        try:
            self.write(": runwidget change events\n\n")
            await self.flush()
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), self.KEEPALIVE)
                    self.write(f"event: changes\ndata: {json_text(event)}\n\n")
                except TimeoutError:
                    self.write(": still here\n\n")
                await self.flush()
        except StreamClosedError:
            pass  # the browser went away
        finally:
            unsubscribe()


class LogsHandler(ApiMixin):
    """``GET runs/ID/logs?since=&limit=``: output lines after a cursor."""

    async def get(self, run_id: str) -> None:
        since = self.int_argument("since", 0) or 0
        limit = self.int_argument("limit")
        self.finish_json(await self.blocking(self.service.logs, run_id, since, limit))


class LogDownloadHandler(ApiMixin):
    """``GET runs/ID/log.txt[?download=1]``: the whole output log as text, streamed."""

    async def get(self, run_id: str) -> None:
        pages = await self.blocking(self.service.log_text, run_id)
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        if self.get_argument("download", None) == "1":
            self.set_header("Content-Disposition", _attachment(f"{run_id}.log"))
        await self.stream(pages)


class FilesHandler(ApiMixin):
    """``GET runs/ID/files?kind=``: the run's stored files (without their bytes)."""

    async def get(self, run_id: str) -> None:
        kind = self.get_argument("kind", None)
        self.finish_json(await self.blocking(self.service.files, run_id, kind))


class FileHandler(ApiMixin):
    """``GET runs/ID/files/PATH[?download=1]``: one stored file."""

    async def get(self, run_id: str, path: str) -> None:
        data, content_type = await self.blocking(self.service.file, run_id, path)
        _send_file(self, data, content_type, path, self.get_argument("download", None) == "1")


class SnapshotHandler(ApiMixin):
    """``GET runs/ID/snapshot.zip``: the source folder's snapshot."""

    async def get(self, run_id: str) -> None:
        from runwidget.tracking.snapshot import SNAPSHOT_PATH

        data, _ = await self.blocking(self.service.file, run_id, SNAPSHOT_PATH)
        _send_file(self, data, "application/zip", f"{run_id}-snapshot.zip", True)


class MetricCsvHandler(ApiMixin):
    """``GET runs/ID/metrics/NAME.csv``: every point of one metric as CSV, as logged (not
    the chart's downsampled series), streamed."""

    async def get(self, run_id: str, name: str) -> None:
        pages = await self.blocking(self.service.metric_csv, run_id, name)
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header(
            "Content-Disposition", _attachment(f"{run_id}-{name.replace('/', '_')}.csv")
        )
        await self.stream(pages)


class CompareCsvHandler(ApiMixin):
    """``GET compare/metrics/NAME.csv?runs=A,B``: every point of one metric of several runs
    as one CSV, the run's id in its first column."""

    async def get(self, name: str) -> None:
        ids = [r for item in self.get_arguments("runs") for r in item.split(",") if r]
        pages = await self.blocking(self.service.compare_csv, ids, name)
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Disposition", _attachment(f"compare-{name.replace('/', '_')}.csv"))
        await self.stream(pages)


class MetricSeriesHandler(ApiMixin):
    """``GET runs/ID/series?metric=NAME&axis=data|relative|wall&from=&to=&max_points=``:
    one metric's series on an x axis, cut to a range and downsampled again from every point
    in it (what a zoomed chart draws)."""

    async def get(self, run_id: str) -> None:
        name = self.get_argument("metric")
        bounds = []
        for key in ("from", "to"):
            text = self.get_argument(key, None)
            try:
                value = float(text) if text not in (None, "") else None
            except ValueError:
                raise web.HTTPError(400, f"{key} must be a number, got {text!r}") from None
            bounds.append(value)
        answer = await self.blocking(
            self.service.metric_series,
            run_id,
            name,
            axis=self.get_argument("axis", "data"),
            x_from=bounds[0],
            x_to=bounds[1],
            max_points=self.int_argument("max_points", 2000) or 2000,
        )
        self.finish_json(answer)


class CancelHandler(ApiMixin):
    """``POST runs/ID/cancel``: cancel a run (XSRF-protected like every Jupyter POST)."""

    async def post(self, run_id: str) -> None:
        self.finish_json(await self.blocking(self.service.cancel, run_id))


class CompareHandler(ApiMixin):
    """``GET compare?runs=A,B,C&metrics=m1,m2``: series of several runs to overlay."""

    async def get(self) -> None:
        runs = self.get_arguments("runs")
        ids = [r for item in runs for r in item.split(",") if r]
        names = [m for item in self.get_arguments("metrics") for m in item.split(",") if m]
        answer = await self.blocking(self.service.compare, ids, names or None)
        for run in answer["runs"]:  # a compare page is live as a run's page is
            self.settings["runwidget_changes"].watch(run["id"])
        self.finish_json(answer)


def _attachment(name: str) -> str:
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                         for c in name.rsplit("/", 1)[-1]) or "file"  # fmt: skip
    return (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name.rsplit('/', 1)[-1])}"
    )


def _send_file(
    handler: ApiMixin, data: bytes, content_type: str, name: str, download: bool
) -> None:
    content_type = (content_type or "").split(";", 1)[0].strip().lower()
    if not content_type or content_type == "application/octet-stream":
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    inline = content_type in INLINE_TYPES and not download
    if not inline and content_type.startswith("text/"):
        content_type = "text/plain"  # never text/html from a user's file
    handler.set_header("Content-Type", content_type)
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
    handler.set_header("Cache-Control", "private, max-age=60")
    if not inline:
        handler.set_header("Content-Disposition", _attachment(name))
    handler.finish_raw(data)


API_ROUTES: list[tuple[str, type]] = [
    (r"status", StatusHandler),
    (r"experiments", ExperimentsHandler),
    (r"runs", RunsHandler),
    (r"targets", TargetsHandler),
    (rf"runs/{RUN_ID}", RunHandler),
    (rf"runs/{RUN_ID}/view", ViewHandler),
    (rf"runs/{RUN_ID}/logs", LogsHandler),
    (rf"runs/{RUN_ID}/log\.txt", LogDownloadHandler),
    (rf"runs/{RUN_ID}/files", FilesHandler),
    (rf"runs/{RUN_ID}/files/(?P<path>.+)", FileHandler),
    (rf"runs/{RUN_ID}/snapshot\.zip", SnapshotHandler),
    (rf"runs/{RUN_ID}/cancel", CancelHandler),
    (rf"runs/{RUN_ID}/metrics/(?P<name>.+)\.csv", MetricCsvHandler),
    (rf"runs/{RUN_ID}/series", MetricSeriesHandler),
    (r"compare", CompareHandler),
    (r"compare/metrics/(?P<name>.+)\.csv", CompareCsvHandler),
    (r"events", EventsHandler),
]
