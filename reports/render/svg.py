"""Charts as SVG text, drawn here: no chart library, no browser, no raster (WeasyPrint draws SVG as vectors).

Axes state their unit and time zone; a gap in the data (None: no usable value) is a gap in the line, never a
line drawn across it. Long series are thinned to about one point per horizontal pixel, keeping each pixel's
minimum and maximum so a spike is never thinned away.
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

__all__ = ["line_chart", "bar_chart", "PALETTE"]

W, H = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 28, 40
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22"]
FONT = 'font-family="DejaVu Sans" font-size="10"'


def _nice_ticks(lo: float, hi: float, count: int = 5, integers: bool = False) -> list[float]:
    """Round ticks from a round value at or below lo to one at or above hi (the axis spans them)."""
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    raw = max((hi - lo) / count, 1.0 if integers else 0.0)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(k * step, 12) for k in range(first, min(last, first + 20) + 1)]


def _label(v: float) -> str:
    return f"{v:.4g}"


def _thin(points: list[tuple[float, float | None]], t0: float, t1: float, width: int):
    """At most ~2 points per pixel column: each column's first, min and max, keeping gaps (None) as gaps."""
    if len(points) <= 2 * width:
        return points
    out: list[tuple[float, float | None]] = []
    span = (t1 - t0) or 1.0
    column, bucket = None, []

    def flush():
        values = [p for p in bucket if p[1] is not None]
        if len(values) < len(bucket):
            out.append((bucket[0][0], None))
        if values:
            lo, hi = min(values, key=lambda p: p[1]), max(values, key=lambda p: p[1])
            out.extend(sorted({lo, hi}))

    for p in points:
        c = int((p[0] - t0) / span * width)
        if c != column and bucket:
            flush()
            bucket = []
        column = c
        bucket.append(p)
    if bucket:
        flush()
    return out


def _time_ticks(t0: float, t1: float, zone: ZoneInfo) -> list[tuple[float, str]]:
    span = max(1.0, t1 - t0)
    for step in (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000):
        if span / step <= 8:
            break
    offset = datetime.fromtimestamp(t0, tz=zone).utcoffset().total_seconds()
    first = math.ceil((t0 + offset) / step) * step - offset  # ticks on the plant's round hours, not UTC's
    fmt = "%H:%M" if span <= 86400 else "%m-%d %H:%M" if span <= 7 * 86400 else "%Y-%m-%d"
    ticks, t = [], first
    while t <= t1 and len(ticks) < 12:
        ticks.append((t, datetime.fromtimestamp(t, tz=zone).strftime(fmt)))
        t += step
    return ticks


def line_chart(*, title: str, unit: str, series: dict[str, list[tuple[float, float | None]]], zone: ZoneInfo) -> str:
    """One chart of several series sharing a unit; x is time (epoch seconds) shown in `zone`."""
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    stamps = [t for pts in series.values() for t, _ in pts[:1] + pts[-1:]]
    values = [v for pts in series.values() for _, v in pts if v is not None]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" {FONT}>',
             f'<text x="{LEFT}" y="16" font-size="12" font-weight="bold">{escape(title)}</text>']
    if not stamps or not values:
        parts.append(f'<text x="{LEFT + pw / 2}" y="{TOP + ph / 2}" text-anchor="middle">No data</text></svg>')
        return "".join(parts)
    t0, t1 = min(stamps), max(stamps)
    t1 = t1 if t1 > t0 else t0 + 1
    lo, hi = min(values), max(values)
    ticks = _nice_ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    hi = hi if hi > lo else lo + 1

    def x(t):
        return LEFT + (t - t0) / (t1 - t0) * pw

    def y(v):
        return TOP + ph - (v - lo) / (hi - lo) * ph

    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    for v in ticks:
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                     f'<text x="{LEFT - 4}" y="{y(v) + 3:.1f}" text-anchor="end">{_label(v)}</text>')
    for t, text in _time_ticks(t0, t1, zone):
        parts.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP}" y2="{TOP + ph}" stroke="#eee"/>'
                     f'<text x="{x(t):.1f}" y="{TOP + ph + 14}" text-anchor="middle">{text}</text>')
    parts.append(f'<text x="{LEFT + pw / 2}" y="{H - 6}" text-anchor="middle">Time ({escape(zone.key)})</text>'
                 f'<text x="12" y="{TOP + ph / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {TOP + ph / 2})">{escape(unit)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        runs, run = [], []
        for t, v in _thin(pts, t0, t1, pw):
            if v is None:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(f"{x(t):.1f},{y(v):.1f}")
        if run:
            runs.append(run)
        for r in runs:
            if len(r) == 1:
                cx, cy = r[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="1.5" fill="{color}"/>')
            else:
                parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.2" points="{" ".join(r)}"/>')
        ly = TOP + 10 + i * 14
        parts.append(f'<rect x="{LEFT + pw + 10}" y="{ly - 7}" width="10" height="3" fill="{color}"/>'
                     f'<text x="{LEFT + pw + 24}" y="{ly}">{escape(name[:22])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(*, title: str, bars: list[tuple[str, float]], unit: str, colors: list[str] | None = None) -> str:
    """Vertical bars with their values written on them (counts get whole-number ticks)."""
    pw, ph = W - LEFT - 20, H - TOP - BOTTOM
    top = max([v for _, v in bars] + [0]) or 1
    ticks = _nice_ticks(0, top, integers=all(float(v).is_integer() for _, v in bars))
    top = max(top, ticks[-1])
    colors = colors or PALETTE
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" {FONT}>',
             f'<text x="{LEFT}" y="16" font-size="12" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{TOP + ph}" y2="{TOP + ph}" stroke="#888"/>',
             f'<text x="12" y="{TOP + ph / 2}" text-anchor="middle" '
             f'transform="rotate(-90 12 {TOP + ph / 2})">{escape(unit)}</text>']
    for v in ticks:
        yy = TOP + ph - v / top * ph
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#eee"/>'
                     f'<text x="{LEFT - 4}" y="{yy + 3:.1f}" text-anchor="end">{_label(v)}</text>')
    slot = pw / max(1, len(bars))
    for i, (label, v) in enumerate(bars):
        bh = v / top * ph
        bx = LEFT + i * slot + slot * 0.15
        parts.append(f'<rect x="{bx:.1f}" y="{TOP + ph - bh:.1f}" width="{slot * 0.7:.1f}" height="{bh:.1f}" '
                     f'fill="{colors[i % len(colors)]}"/>'
                     f'<text x="{bx + slot * 0.35:.1f}" y="{TOP + ph - bh - 3:.1f}" text-anchor="middle">'
                     f'{_label(v)}</text>'
                     f'<text x="{bx + slot * 0.35:.1f}" y="{TOP + ph + 14}" text-anchor="middle">'
                     f'{escape(str(label)[:18])}</text>')
    parts.append("</svg>")
    return "".join(parts)
