"""PDF output: read back with pypdfium2 (text) and rendered to PNG to look at; no external fetch."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pypdfium2
import pytest

from reports.models import ReportDefinition, ReportRun
from reports.services import report_request, report_run_execute, reports_dir

from .conftest import T0, make_event

pytestmark = pytest.mark.django_db
JOURNAL = {"start": "2026-03-02T06:00:00Z", "end": "2026-03-02T12:00:00Z"}


def _generate(user, slug, params, **definition_fields):
    definition = ReportDefinition.objects.get(slug=slug)
    for name, value in definition_fields.items():
        setattr(definition, name, value)
    definition.save()
    run, small = report_request(definition=definition, user=user, format="pdf", parameters=params)
    assert not small  # every PDF goes to the worker
    run = report_run_execute(run_id=run.pk)
    assert run.status == "done", run.message
    return run, pypdfium2.PdfDocument(str(reports_dir() / run.file_path))


def _text(pdf) -> list[str]:
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


def test_it_heads_every_page_and_numbers_them_n_of_n(operator, settings):
    settings.KILN_PLANT_NAME = "Springfield Works"
    for i in range(400):
        make_event(T0 + timedelta(seconds=30 * i), priority=["critical", "high", "medium", "low"][i % 4])
    run, pdf = _generate(operator, "alarm-journal", JOURNAL)
    pages = _text(pdf)
    assert len(pages) > 2
    for n, text in enumerate(pages, start=1):
        assert "Springfield Works" in text and "Alarm journal" in text
        assert f"Page {n} of {len(pages)}" in text
        assert "Time (UTC)" in text  # the table's header repeats on every page it spans
    assert "Events by priority" in pages[0] and "olivia" in pages[0]
    assert "2026-03-02 06:00 to 2026-03-02 12:00 (UTC)" in pages[0]


def test_it_states_the_plant_time_zone_on_times_and_axes(operator, settings, history):
    settings.KILN_PLANT_TIME_ZONE = "Europe/Paris"
    _run, pdf = _generate(operator, "tag-history", {"tags": ["Reactor_Temp", "Reactor_Press"],
                                                    "start": "2026-03-02T06:00:00Z", "end": "2026-03-02T07:00:00Z"})
    text = "".join(_text(pdf))
    assert "2026-03-02 07:00 to 2026-03-02 08:00 (Europe/Paris)" in text
    assert "Time (Europe/Paris)" in text
    assert "°C" in text and "bar" in text  # one chart per unit, the unit on its axis


def test_it_prints_letter_when_the_definition_asks(operator, journal):
    _run, pdf = _generate(operator, "alarm-journal", JOURNAL, page_size="Letter")
    width, height = pdf[0].get_size()
    assert (round(width), round(height)) == (792, 612)  # Letter landscape, in points


def test_it_fetches_nothing_outside_kilns_own_files(operator, journal, monkeypatch):
    from reports.render import pdf as pdf_module

    seen = []
    original = pdf_module._fetcher

    def spy(allowed):
        fetcher = original(allowed)
        fetch = fetcher.fetch

        def record(url, headers=None):
            seen.append(url)
            return fetch(url, headers)

        fetcher.fetch = record
        return fetcher

    monkeypatch.setattr(pdf_module, "_fetcher", spy)
    _generate(operator, "alarm-journal", JOURNAL)
    # Kiln's fonts, and the report's own charts handed over inline (decoded by the fetcher, never fetched).
    fonts = [url for url in seen if url.startswith("file://") and "/static/reports/fonts/" in url]
    charts = [url for url in seen if url.startswith("data:image/svg+xml;base64,")]
    assert fonts and charts and len(fonts) + len(charts) == len(seen)


def test_it_refuses_an_external_url_in_the_fetcher():
    from reports.render.pdf import FONTS_DIR, _fetcher

    fetcher = _fetcher([FONTS_DIR])
    with pytest.raises(ValueError):
        fetcher.fetch("http://example.com/x.png")
    with pytest.raises(ValueError):
        fetcher.fetch("file:///etc/passwd")


def test_it_renders_pages_a_person_can_look_at(operator, history, journal, tmp_path):
    # KILN_REPORTS_LOOK=<dir> keeps the pages as PNG there, to look at them.
    out = Path(os.environ.get("KILN_REPORTS_LOOK") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    _, chart_pdf = _generate(operator, "tag-history", {"tags": ["Reactor_Temp", "Reactor_Press"],
                                                       "start": "2026-03-02T06:00:00Z", "end": "2026-03-02T07:00:00Z"})
    chart_pdf[0].render(scale=1.5).to_pil().save(out / "tag-history-1.png")
    _, shift_pdf = _generate(operator, "shift", {"tags": ["Reactor_Temp", "Reactor_Press"],
                                                 "start": "2026-03-02T06:00:00Z", "hours": 1})
    for i in range(len(shift_pdf)):
        shift_pdf[i].render(scale=1.5).to_pil().save(out / f"shift-{i + 1}.png")
    run, pdf = _generate(operator, "alarm-journal", JOURNAL)
    image = pdf[0].render(scale=1.5).to_pil()
    image.save(out / "alarm-journal-1.png")
    # Not blank: the header, the chart and the table put ink on a good part of the page.
    grey = image.convert("L")
    dark = sum(1 for p in grey.getdata() if p < 200)
    assert dark > 0.01 * grey.width * grey.height
    assert ReportRun.objects.get(pk=run.pk).size > 10_000


def test_it_prints_the_definitions_logo_from_its_upload(operator, journal, settings, tmp_path):
    from django.core.files.base import ContentFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path / "media"
    buf = io.BytesIO()
    Image.new("RGB", (120, 40), (20, 220, 20)).save(buf, format="PNG")  # a green no chart of this report uses
    definition = ReportDefinition.objects.get(slug="alarm-journal")
    definition.logo.save("plant.png", ContentFile(buf.getvalue()))
    _run, pdf = _generate(operator, "alarm-journal", JOURNAL)
    image = pdf[0].render(scale=1).to_pil().convert("RGB")
    greens = sum(1 for r, g, b in image.getdata() if g > 190 and r < 60 and b < 60)
    assert greens > 500  # the logo is on the first page


def test_it_lines_up_every_rows_columns_whatever_the_text_before_them(tmp_path):
    # A row is one text line with its columns placed by spaces counted from the font (reports.render.rows):
    # wide and narrow letters, accents, symbols, a wrapped value and a tab or line break in a value must not move
    # the next column.
    from reports.kinds.base import Section
    from reports.render.pdf import pdf_write, report_html

    rows = [[f"0{i}:00:00", "W" * (i % 9) + "il" * (i % 5), f"C{i}", "ÄÖÜ °C m³/h fi ffi\tx\n" * (i % 7), f"end{i}"]
            for i in range(30)]
    section = Section(title="Rows", columns=["Time (Europe/Paris)", "Who", "Code", "Message", "Last"], rows=rows)
    for size, orientation in (("A4", "portrait"), ("Letter", "landscape")):
        path = tmp_path / f"{size}.pdf"
        pdf_write(path, report_html(title="Rows", meta=[], sections=[section], plant="P", generated="g", size=size,
                                    orientation=orientation))
        page = pypdfium2.PdfDocument(str(path))[0]
        text = page.get_textpage()
        for prefix in ("C", "end"):
            lefts = []
            for i in range(30):
                found = text.search(f"{prefix}{i}", match_whole_word=True).get_next()
                assert found, f"{prefix}{i} not on the page"
                lefts.append(text.get_charbox(found[0])[0])
            assert max(lefts) - min(lefts) < 0.3, (size, prefix, min(lefts), max(lefts))  # points
