"""Data tables as one text cell per row, the columns placed with space characters: the PDF's table renderer.

WeasyPrint lays out and draws every table cell as boxes of its own (the cell, its line, its text, and a styled
element), and a 1,000-row table of six columns was nine tenths of a shift report's time (bench/bench_reports.py).
Here a row is one cell whose text holds all its columns, each padded to the next column's start, so the table
keeps its rows, row rules and a header repeated on every page with a sixth of the cells.

The padding is counted from the shipped DejaVu fonts' own advance widths (kerning and ligatures are off in the
CSS, pdf.CSS, so those are the widths Pango lays out): whole em spaces, then the few narrower Unicode spaces
whose sum comes nearest the rest, so a column starts within about 0.1 px of its place. The pen position is
re-counted at each column, so errors never add up along a row. Tabs are not used: WeasyPrint 70 draws a tab
2.4 % wider than Pango laid it out (it scales the empty glyph by 1024/1000), which moves the columns after it.
A character outside DejaVu Sans (drawn by a fallback font, if any) is counted 1 em wide; only such a row's
later columns may sit off.
"""

from __future__ import annotations

import bisect
import itertools
import math
from functools import cache
from html import escape
from pathlib import Path

from django.conf import settings

__all__ = ["table_columns", "table_line_text", "FONT_PT"]

FONTS_DIR = Path(settings.BASE_DIR) / "static" / "reports" / "fonts"
FONT_PT = 7  # the tables' size (pdf.CSS)
FONT_PX = FONT_PT * 4 / 3
PADDING_PX = 1 * 96 / 25.4  # 1 mm either side of a row's text (pdf.CSS)
GAP_PX = 2 * 96 / 25.4  # at least 2 mm between a column's text and the next column, as the cells' padding gave
MAX_CHARS = 400  # a value longer than this is cut (the longest message or reason shown is ~200)
# Em, en, three-per-em, space, four-per-em, thin, six-per-em and hair spaces: all in DejaVu Sans and Bold.
_SPACES = "\u2003\u2002\u2004 \u2005\u2009\u2006\u200a"


@cache
def _advances(bold: bool) -> dict[int, float]:
    """Per code point, its advance in px at the tables' size (from the font's hmtx table)."""
    from fontTools.ttLib import TTFont  # WeasyPrint's own dependency; loaded only where PDFs are made

    font = TTFont(FONTS_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"), lazy=True)
    scale = FONT_PX / font["head"].unitsPerEm
    hmtx = font["hmtx"].metrics
    return {cp: hmtx[name][0] * scale for cp, name in font.getBestCmap().items()}


def _width(text: str, bold: bool) -> float:
    """The text's width in CSS px at the tables' size; a character the font lacks counts 1 em."""
    advances = _advances(bold)
    return sum(advances.get(ord(c), FONT_PX) for c in text)


@cache
def _fills(bold: bool) -> tuple[list[float], list[str]]:
    """Every run of at most five spaces from _SPACES, as sorted widths and their texts."""
    advances = _advances(bold)
    runs = {}
    for n in range(1, 6):
        for combo in itertools.combinations_with_replacement(_SPACES, n):
            width = round(sum(advances[ord(c)] for c in combo), 3)
            runs.setdefault(width, "".join(combo))
    widths = sorted(runs)
    return widths, [runs[w] for w in widths]


def _fill(gap: float, bold: bool) -> tuple[str, float]:
    """Spaces as near `gap` px wide as they come, and their width."""
    em = _advances(bold)[ord("\u2003")]
    whole = max(0, math.floor(gap / em) - 1)  # em spaces, leaving between one and two ems to fit closely
    rest = gap - whole * em
    widths, texts = _fills(bold)
    i = bisect.bisect_left(widths, rest)
    best = min((j for j in (i - 1, i) if 0 <= j < len(widths)), key=lambda j: abs(widths[j] - rest))
    return "\u2003" * whole + texts[best], whole * em + widths[best]


def _wrap(text: str, limit: float, bold: bool) -> list[str]:
    """Greedy wrap at spaces into lines at most `limit` px wide; a word wider than a line is cut between
    characters (the old cells' overflow-wrap: break-word)."""
    if _width(text, bold) <= limit:
        return [text]
    advances = _advances(bold)
    space = advances[ord(" ")]
    lines, line, used = [], "", 0.0
    for word in text.split(" "):
        w = _width(word, bold)
        if line and used + space + w <= limit:
            line, used = f"{line} {word}", used + space + w
            continue
        if line:
            lines.append(line)
        line, used = "", 0.0
        for c in word:  # a word wider than the column is broken where it must be
            cw = advances.get(ord(c), FONT_PX)
            if line and used + cw > limit:
                lines.append(line)
                line, used = "", 0.0
            line, used = line + c, used + cw
    lines.append(line)
    return lines


def table_columns(percents: list[float], content_px: float) -> list[float]:
    """Each column's width in px, from its share of the row's inner width (the cell's padding taken off)."""
    inner = content_px - 2 * PADDING_PX
    return [inner * p / 100 for p in percents]


def table_line_text(values: list[str], widths: list[float], *, bold: bool = False) -> str:
    """One row as escaped HTML text for a `white-space: pre` cell: its lines (a value wraps inside its column)
    joined by newlines, each column padded with spaces to the next one's start."""
    cells = []
    for value, width in zip(values, widths, strict=False):
        # A tab or a line break inside a value would move the columns: any run of white space is one space here.
        text = " ".join(value[:MAX_CHARS].split())
        cells.append(_wrap(text, max(FONT_PX, width - GAP_PX), bold) if text else [""])
    starts = list(itertools.accumulate(widths, initial=0.0))
    lines = []
    for k in range(max(len(c) for c in cells)):
        out, pen = [], 0.0
        for i, cell in enumerate(cells):
            text = cell[k] if k < len(cell) else ""
            out.append(escape(text, quote=False))
            if i == len(cells) - 1:
                break
            pen += _width(text, bold)
            spaces, used = _fill(starts[i + 1] - pen, bold)
            out.append(spaces)
            pen += used
        lines.append("".join(out).rstrip(_SPACES))
    return "\n".join(lines)
