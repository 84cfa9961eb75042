"""What a history query asks for and what answering it takes: the tag it needs, the point limit with a suggested
interval, and the plan of which tier (1-hour rollups, 1-minute rollups, raw samples) serves which part of the range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from historian.conf import conf
from scada.errors import BadRequest

NICE_INTERVALS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class HistoryTag:
    """What a query needs to know about a tag."""

    id: int
    name: str
    datatype: str


def suggest_interval(*, seconds: float, tags: int, max_points: int) -> int:
    """The smallest round interval that keeps tags × buckets within max_points."""
    needed = seconds * tags / max_points
    for nice in NICE_INTERVALS:
        if nice >= needed and tags * math.ceil(seconds / nice) <= max_points:
            return nice
    return int(math.ceil(needed / 86400) * 86400)


def history_points_check(*, n_tags: int, start: datetime, end: datetime, mode: str, interval: int | None) -> None:
    """400 before any work when an aggregate query would return more than KILN_HISTORY_MAX_POINTS points."""
    if mode == "raw":
        return
    max_points = conf.KILN_HISTORY_MAX_POINTS
    seconds = (end - start).total_seconds()
    s, e = start.timestamp(), end.timestamp()
    buckets = math.ceil(e / interval) - math.floor(s / interval)
    points = buckets * n_tags
    if points > max_points:
        hint = suggest_interval(seconds=seconds, tags=n_tags, max_points=max_points)
        raise BadRequest(
            f"The query would return {points} points (more than the limit of {max_points}); "
            f"use interval={hint} or a shorter time range.",
            extra={"max_points": max_points, "suggested_interval": hint},
        )


def plan_segments(start: float, end: float, interval: int, exact_until: float | None) -> list[tuple[int, float, float]]:
    """Split [start, end) (epoch s) into (tier, from, to): tier 3600 / 60 for rollup rows, 0 for raw samples.

    A tier serves only whole tier buckets that lie inside the range and before `exact_until` (the oldest
    pending rollup range), and only when the interval is a multiple of the tier.
    """
    tiers = [t for t in (3600, 60) if interval % t == 0]
    bound = end if exact_until is None else min(end, exact_until)

    def split(a: float, b: float, tiers: list[int]) -> list[tuple[int, float, float]]:
        if a >= b:
            return []
        if not tiers:
            return [(0, a, b)]
        t = tiers[0]
        lo = math.ceil(a / t) * t
        hi = math.floor(min(b, bound) / t) * t
        if lo >= hi:
            return split(a, b, tiers[1:])
        return split(a, lo, tiers[1:]) + [(t, lo, hi)] + split(hi, b, tiers[1:])

    return split(start, end, tiers)
