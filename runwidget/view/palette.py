"""The one palette of every front end: series colours, in order, and the iteration chart's.

The colours live in ``palette.json`` beside this module, which the JS bundles import too
(``js/components/palette.js``); the view model puts a colour on every series it sends.
"""

from __future__ import annotations

import json
from pathlib import Path

_PALETTE = json.loads((Path(__file__).with_name("palette.json")).read_text(encoding="utf-8"))

#: Series colours, in order: the n-th series of a chart gets ``SERIES[n % len(SERIES)]``.
SERIES: list[str] = list(_PALETTE["series"])
#: The points of an iteration chart (one per iteration).
ITERATION_POINTS: str = _PALETTE["iteration_points"]
#: The stepped best-so-far line of an iteration chart.
BEST_SO_FAR: str = _PALETTE["best_so_far"]


def series_colour(index: int) -> str:
    """The colour of a chart's ``index``-th series."""
    return SERIES[index % len(SERIES)]
