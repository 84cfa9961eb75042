"""manage.py static_collect: the production start collects static files once, and again only when they change."""

from io import StringIO

from django.core.management import call_command


def _run() -> str:
    out = StringIO()
    call_command("static_collect", stdout=out)
    return out.getvalue()


def test_it_collects_once_then_skips_until_a_static_file_changes(tmp_path, settings):
    source = tmp_path / "src"
    source.mkdir()
    (source / "plant.css").write_text("body { color: #333 }")
    settings.STATIC_ROOT = str(tmp_path / "collected")
    settings.STATICFILES_DIRS = [str(source)]

    assert "collected" in _run()
    copied = tmp_path / "collected" / "plant.css"
    assert copied.read_text() == "body { color: #333 }"

    assert "unchanged" in _run()

    (source / "plant.css").write_text("body { color: #444 }")
    assert "collected" in _run()
    assert copied.read_text() == "body { color: #444 }"


def test_an_interrupted_collection_is_redone(tmp_path, settings):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.js").write_text("1")
    settings.STATIC_ROOT = str(tmp_path / "collected")
    settings.STATICFILES_DIRS = [str(tmp_path / "src")]
    assert "collected" in _run()
    (tmp_path / "collected" / ".kiln-static-fingerprint").unlink()  # as if killed before the fingerprint
    assert "collected" in _run()
