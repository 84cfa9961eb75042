"""SVG sanitizing: the allowlist walk keeps drawings and drops anything that could run or call out."""

import pytest

from hmi.sanitize import SvgRejected, svg_sanitize

NS = 'xmlns="http://www.w3.org/2000/svg"'


def clean(body: str, extra: str = "") -> str:
    return svg_sanitize(f"<svg {NS} {extra}>{body}</svg>").markup


def test_it_keeps_a_plain_drawing_with_its_ids():
    result = svg_sanitize(f'<svg {NS} viewBox="0 0 10 10"><g id="p1"><rect id="r" x="1" y="2" width="3" '
                          'height="4" fill="#f00" style="stroke:#000;stroke-width:2"/></g><text id="t">Hi</text></svg>')
    assert result.removed == []
    assert result.ids == {"p1", "r", "t"}
    assert 'viewBox="0 0 10 10"' in result.markup
    assert 'style="stroke:#000;stroke-width:2"' in result.markup
    assert ">Hi</text>" in result.markup


def test_it_removes_script_elements():
    out = clean('<script>alert(1)</script><rect id="a" width="1" height="1"/>')
    assert "script" not in out and "alert" not in out
    assert 'id="a"' in out


def test_it_removes_event_handler_attributes():
    out = clean('<rect id="a" onclick="alert(1)" onload="x()" width="1"/>', extra='onload="alert(2)"')
    assert "onclick" not in out and "onload" not in out and "alert" not in out


def test_it_removes_foreign_object_and_embedded_html():
    out = clean('<foreignObject><div xmlns="http://www.w3.org/1999/xhtml"><iframe src="https://x"/></div>'
                '</foreignObject><circle r="1"/>')
    assert "foreignObject" not in out and "iframe" not in out and "https" not in out
    assert "<circle" in out


@pytest.mark.parametrize("ref", ["https://evil.example/x.svg#a", "javascript:alert(1)", "data:image/svg+xml;base64,AA",
                                 "other.svg#part"])
def test_it_removes_external_references(ref):
    out = clean(f'<use href="{ref}"/><use xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="{ref}"/>')
    assert ref.split(":")[0] not in out.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "href" not in out


def test_it_keeps_same_document_references():
    out = clean('<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>'
                '<rect id="r" fill="url(#g)"/><use href="#r"/>')
    assert 'fill="url(#g)"' in out and 'href="#r"' in out


def test_it_removes_external_urls_from_paint_and_style():
    out = clean('<rect fill="url(https://evil.example/p#x)" style="fill:url(http://x/y);stroke:red;'
                'background-image:url(http://x)"/>')
    assert "evil" not in out and "http" not in out.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "stroke:red" in out


def test_it_removes_style_sheets_images_links_and_animation():
    out = clean('<style>@import url(http://x/y.css);</style><image href="http://x/y.png"/>'
                '<a href="javascript:alert(1)"><text>t</text></a><set attributeName="href" to="javascript:x"/>'
                '<animate attributeName="onclick"/>')
    for word in ("style", "image", "<a", "javascript", "set", "animate", "@import"):
        assert word not in out


def test_it_refuses_entity_expansion():
    bomb = ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            f'<svg {NS}><text>&b;</text></svg>')
    with pytest.raises(SvgRejected, match="DTD"):
        svg_sanitize(bomb)


def test_it_refuses_external_entities():
    xxe = (f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           f'<svg {NS}><text>&x;</text></svg>')
    with pytest.raises(SvgRejected):
        svg_sanitize(xxe)


@pytest.mark.parametrize("raw,message", [
    ("", "empty"),
    ("<svg", "well-formed"),
    ('<html xmlns="http://www.w3.org/1999/xhtml"/>', "root element"),
    ("<svg/>", "root element"),  # no SVG namespace: browsers would not draw it as SVG
])
def test_it_rejects_what_is_not_an_svg_drawing(raw, message):
    with pytest.raises(SvgRejected, match=message):
        svg_sanitize(raw)


def test_it_reports_what_it_removed():
    result = svg_sanitize(f'<svg {NS}><script/><rect onclick="x"/></svg>')
    assert any("script" in r for r in result.removed)
    assert any("onclick" in r for r in result.removed)
