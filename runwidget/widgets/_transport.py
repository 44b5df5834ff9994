"""What a RunDetails puts on the wire, and how: view deltas as custom messages with long
series tails in binary buffers, the whole view as the widget's ``_snapshot`` state (its
series as binary buffers too), the full log and the answers to the browser's requests.
Every byte sent is counted in ``bytes_sent`` (for the benchmarks)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

# Series tails at least this long travel as binary float64 buffers rather than JSON numbers.
BINARY_FROM = 64
# Output lines read per query when the browser asks for the whole log.
LOG_PAGE = 100_000


def pack_tails(tails: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Series tails with the long ones' ``x`` and ``y`` moved into binary buffers:
    ``{"buffer": i}`` stands for ``buffers[i]`` (little-endian float64), as js/binary.js
    reads it. The tails given are left as they are."""
    buffers: list[bytes] = []
    packed_tails = []
    for tail in tails:
        if len(tail["x"]) >= BINARY_FROM:
            tail = dict(tail)
            for axis in ("x", "y"):
                values = tail[axis]
                tail[axis] = {"buffer": len(buffers)}
                buffers.append(np.asarray(values, "<f8").tobytes())
        packed_tails.append(tail)
    return packed_tails, buffers


def pack_series(content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    """A RunDetails delta message with its long series tails in binary buffers
    (``pack_tails``); the message given is left as it is."""
    charts = content["delta"].get("charts")
    if not charts:
        return content, []
    data, buffers = pack_tails(charts["data"])
    delta = {**content["delta"], "charts": {**charts, "data": data}}
    return {**content, "delta": delta}, buffers


def view_state(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """A view snapshot as the ``_snapshot`` state of the widget: each series' ``x`` and ``y``
    as little-endian float64 bytes, which the widget protocol sends as binary buffers (the
    browser puts them into the chart lines; js/widget.js ``splitSeries``)."""
    charts = [
        {
            **chart,
            "series": [
                {**s, "x": _float64(s.get("x", ())), "y": _float64(s.get("y", ()))}
                for s in chart["series"]
            ],
        }
        for chart in snapshot["charts"]
    ]
    return {**snapshot, "charts": charts}


def _float64(values: Any) -> memoryview:
    return memoryview(np.asarray(values, "<f8").tobytes())


def state_size(state: dict[str, Any]) -> int:
    """The bytes a ``view_state`` takes on the wire: its JSON and its buffers."""
    size = 0

    def strip(value: Any) -> Any:
        nonlocal size
        if isinstance(value, memoryview):
            size += value.nbytes
            return None
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json_size(strip(state)) + size


def json_size(content: Any) -> int:
    return len(json.dumps(content, default=str))


class Transport:
    """Sends a widget's messages and counts their bytes.

    Args:
        widget: the ipywidgets widget whose comm carries the messages.
    """

    def __init__(self, widget: Any) -> None:
        self._widget = widget
        #: What deltas, snapshots and answers put on the wire.
        self.bytes_sent = 0

    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        """Send a custom message (nothing once the widget is closed)."""
        if self._widget.comm is None:
            return
        self.bytes_sent += json_size(content) + sum(len(b) for b in buffers or ())
        self._widget.send(content, buffers)

    def send_delta(self, delta: Mapping[str, Any]) -> None:
        """Send a view delta; long series tails go as binary buffers."""
        content, buffers = pack_series({"type": "delta", "delta": delta})
        self.send(content, buffers)

    def view_state(self, snapshot: Mapping[str, Any]) -> dict[str, Any]:
        """The ``_snapshot`` state of a view snapshot, counted as sent (the widget asks for
        its state only to send it: a page loading the widget, or ``send_view``)."""
        state = view_state(snapshot)
        self.bytes_sent += state_size(state)
        return state

    def send_view(self) -> None:
        """Send the widget's ``_snapshot`` state (the view as it is now)."""
        if self._widget.comm is not None:
            self._widget.send_state("_snapshot")

    def send_error(self, text: str) -> None:
        self.send({"type": "error", "text": text})

    def send_full_log(self, source: Any) -> None:
        """Send every output line of ``source``'s run, as text in one buffer."""
        parts: list[str] = []
        cursor = 0
        while True:
            lines = source.logs(cursor, limit=LOG_PAGE)
            parts.extend(f"{line.text}\n" for line in lines)
            if len(lines) < LOG_PAGE:
                break
            cursor = lines[-1].seq
        self.send({"type": "full_log", "run_id": source.run_id}, [("".join(parts)).encode()])
