"""PDF output with WeasyPrint: the page frame (header, "page n of N", repeated table headers) around a kind's
sections, built as HTML text in one pass.

Rows are joined as strings with html.escape rather than through Django templates: a 1,000-row table is 1,000
template renders the other way, several times the cost (bench/bench_reports.py measures both). Nothing is
fetched from outside: fonts come from Kiln's static files (static/reports/fonts, DejaVu Sans), a logo from the
definition's upload, and any other URL is refused by the fetcher.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime
from html import escape
from pathlib import Path

from django.conf import settings

from reports.render.rows import table_columns, table_line_text

# WeasyPrint logs every rendering step at INFO: noise in a worker's log, one line per step per report.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

__all__ = ["pdf_write", "report_html", "FONTS_DIR"]

FONTS_DIR = Path(settings.BASE_DIR) / "static" / "reports" / "fonts"
PAGE_MM = {"A4": (210, 297), "Letter": (215.9, 279.4)}
MARGIN_MM = 12  # left and right, as @page says
CHART_URL = "data:image/svg+xml;base64,"

CSS = """
@font-face { font-family: "DejaVu Sans"; src: url("%(fonts)s/DejaVuSans.ttf"); }
@font-face { font-family: "DejaVu Sans"; font-weight: bold; src: url("%(fonts)s/DejaVuSans-Bold.ttf"); }
@page {
  size: %(size)s %(orientation)s; margin: 18mm %(margin)smm 16mm %(margin)smm;
  @top-left { content: %(top_left)s; font-size: 7.5pt; font-weight: bold; vertical-align: bottom;
              border-bottom: 0.6pt solid #333; }
  @top-right { content: %(top_right)s; font-size: 7.5pt; vertical-align: bottom; border-bottom: 0.6pt solid #333; }
  @bottom-left { content: %(footer)s; font-size: 7pt; color: #555; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 7pt; color: #555; }
}
html { font-family: "DejaVu Sans"; font-size: 8pt; color: #111; }
.logo { height: 14mm; float: right; }
h1 { font-size: 15pt; margin: 0 0 2mm 0; }
h2 { font-size: 11pt; margin: 5mm 0 2mm 0; break-after: avoid; }
.meta { border-collapse: collapse; margin-bottom: 3mm; }
.meta td { padding: 0.4mm 3mm 0.4mm 0; vertical-align: top; }
.meta td:first-child { color: #555; }
.figures { display: flex; flex-wrap: wrap; gap: 2mm; margin: 2mm 0; }
.figure { border: 0.5pt solid #bbb; padding: 1.5mm 3mm; }
.figure b { display: block; font-size: 11pt; }
.chart { break-inside: avoid; margin: 2mm 0; }
.chart img { width: 165mm; }
table.data { width: 100%%; border-collapse: separate; border-spacing: 0; table-layout: fixed; font-size: 7pt; }
table.data thead { display: table-header-group; }
/* One cell per row, its columns placed with spaces (reports.render.rows); no kerning or ligatures, so the widths
   rows.py counts from the font are the widths drawn. */
table.data th, table.data td { white-space: pre; font-kerning: none; font-variant-ligatures: none;
                               text-align: left; padding: 0.3mm 1mm; }
table.data th { background: #e8e8e8; border-bottom: 0.6pt solid #555; padding: 1mm; }
table.data td { border-bottom: 0.3pt solid #ddd; }
table.data tr { break-inside: avoid; }
.note { color: #555; font-style: italic; margin-top: 1mm; }
"""


def _fetcher(allowed: list[Path]):
    """WeasyPrint's URL fetcher limited to Kiln's own files: a report never reaches out to the network."""
    from weasyprint import URLFetcher
    from weasyprint.urls import URLFetcherResponse

    roots = [p.resolve() for p in allowed]

    class LocalFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith(CHART_URL):  # the report's own charts, decoded here: no fetch at all
                return URLFetcherResponse(url, base64.b64decode(url[len(CHART_URL):]),
                                          {"Content-Type": "image/svg+xml"})
            if url.startswith("file://"):
                path = Path(url[len("file://"):].split("?")[0]).resolve()
                if any(path == r or r in path.parents for r in roots):
                    return super().fetch(url, headers)
            raise ValueError(f"Reports fetch no external resources: {url[:80]}")

    return LocalFetcher(allowed_protocols=("file",))


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _text(value) -> str:
    """A table value as text (escaped where it is placed)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _widths(columns: list[str], rows: list[list]) -> list[float]:
    """Column widths in percent, by the longest text in the header and the first 200 rows (4 to 40 characters)."""
    longest = [max(4, len(c)) for c in columns]
    for row in rows[:200]:
        for i, v in enumerate(row[: len(longest)]):
            longest[i] = max(longest[i], min(40, len(_text(v))))
    total = sum(longest)
    return [100.0 * n / total for n in longest]


def report_html(*, title: str, meta: list[tuple[str, str]], sections: list, plant: str, generated: str,
                subtitle: str = "",
                logo: Path | None = None, size: str = "A4", orientation: str = "portrait") -> str:
    """The whole report as one HTML document (no template engine: see the module docstring)."""
    width, height = PAGE_MM[size]
    content_px = ((height if orientation == "landscape" else width) - 2 * MARGIN_MM) * 96 / 25.4
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><style>",
        CSS % {"fonts": FONTS_DIR.as_uri(), "size": size, "orientation": orientation, "margin": MARGIN_MM,
               "footer": _css_string(generated), "top_left": _css_string(f"{plant} · {title}"),
               "top_right": _css_string(subtitle)},
        "</style></head><body>",
        f"<img class='logo' src='{logo.as_uri()}'>" if logo else "",
        f"<h1>{escape(title)}</h1><table class='meta'>",
        *(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in meta),
        "</table>",
    ]
    for s in sections:
        out.append(f"<h2>{escape(s.title)}</h2>")
        if s.text:
            out.append(f"<p>{escape(s.text)}</p>")
        if s.figures:
            out.append("<div class='figures'>")
            out.extend(f"<div class='figure'>{escape(k)}<b>{escape(v)}</b></div>" for k, v in s.figures)
            out.append("</div>")
        # SVG drawn by reports.render.svg, which escapes every text it places. As an image rather than inline: inline,
        # each of its elements went through the page's CSS cascade and box tree, a sixth of a shift report's time.
        out.extend(f"<div class='chart'><img src='{CHART_URL}{base64.b64encode(svg.encode()).decode()}'></div>"
                   for svg in s.charts)
        if s.columns and s.rows:
            # One cell per row, the columns placed with spaces (reports.render.rows): a cell per value was 9/10 of a
            # 1,000-row report's time. Widths from the text itself, as a fixed layout needs.
            units = table_columns(_widths(s.columns, s.rows), content_px)
            out.append("<table class='data'><thead><tr><th>")
            out.append(table_line_text(list(s.columns), units, bold=True))
            out.append("</th></tr></thead><tbody>")
            out.append("".join("<tr><td>" + table_line_text([_text(v) for v in row], units) + "</td></tr>"
                               for row in s.rows))
            out.append("</tbody></table>")
        if s.note:
            out.append(f"<p class='note'>{escape(s.note)}</p>")
    out.append("</body></html>")
    return "".join(out)


def pdf_write(path: Path, html: str, *, logo: Path | None = None) -> None:
    from weasyprint import HTML  # imported here: the web process never needs WeasyPrint loaded

    allowed = [FONTS_DIR] + ([logo.parent] if logo else [])
    HTML(string=html, base_url=str(FONTS_DIR), url_fetcher=_fetcher(allowed)).write_pdf(path)


def local_stamp(ts: datetime, zone) -> str:
    return ts.astimezone(zone).strftime("%Y-%m-%d %H:%M")
