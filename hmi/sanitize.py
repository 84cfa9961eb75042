"""SVG sanitizing for uploaded HMI screens: an allowlist walk over a defusedxml parse.

An SVG drawing is inlined into every HMI page, so anything executable in it would run with the operator's
session. The walk keeps only known drawing elements and presentation attributes, and drops everything else:
scripts, event handlers (on*), foreignObject, <style> sheets, images, and any reference that leaves the
document (href, url(...) that is not a same-document #fragment). defusedxml refuses DTDs, entity expansion
and external entities before the walk starts, so no billion-laughs or XXE reaches it.

The result is re-serialized from the parsed tree, never patched textually, so what was dropped cannot
reappear through quoting tricks.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - used only to build and serialize, never to parse input
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as safe_fromstring

__all__ = ["SvgRejected", "SanitizedSvg", "svg_sanitize", "MAX_SVG_BYTES"]

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
MAX_SVG_BYTES = 2 * 1024 * 1024

ALLOWED_ELEMENTS = {
    "svg", "g", "defs", "title", "desc", "symbol", "use",
    "rect", "circle", "ellipse", "line", "polyline", "polygon", "path",
    "text", "tspan", "textPath",
    "linearGradient", "radialGradient", "stop", "clipPath", "mask", "pattern", "marker",
}

ALLOWED_ATTRIBUTES = {
    "id", "class", "x", "y", "width", "height", "rx", "ry", "cx", "cy", "r", "fx", "fy",
    "x1", "y1", "x2", "y2", "dx", "dy", "points", "d", "transform", "viewBox", "preserveAspectRatio",
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
    "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset", "stroke-miterlimit", "opacity",
    "visibility", "display", "color", "font-family", "font-size", "font-weight", "font-style",
    "text-anchor", "dominant-baseline", "alignment-baseline", "letter-spacing", "text-decoration",
    "offset", "stop-color", "stop-opacity", "gradientUnits", "gradientTransform", "spreadMethod",
    "clip-path", "clip-rule", "mask", "maskUnits", "maskContentUnits", "clipPathUnits",
    "patternUnits", "patternContentUnits", "patternTransform",
    "marker-start", "marker-mid", "marker-end", "markerWidth", "markerHeight", "markerUnits",
    "refX", "refY", "orient", "href", "style", "version", "vector-effect", "shape-rendering",
    "startOffset", "textLength", "lengthAdjust",
}

# Presentation properties allowed inside a style="" attribute (no layout tricks, no url() but #fragments).
ALLOWED_STYLE_PROPERTIES = {
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
    "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset", "stroke-miterlimit", "opacity", "visibility",
    "display", "color", "font-family", "font-size", "font-weight", "font-style", "text-anchor",
    "dominant-baseline", "letter-spacing", "text-decoration", "stop-color", "stop-opacity", "clip-path",
    "mask", "marker-start", "marker-mid", "marker-end", "vector-effect", "shape-rendering", "paint-order",
}

_URL_RE = re.compile(r"url\s*\(", re.IGNORECASE)
_LOCAL_URL_RE = re.compile(r"""^url\(\s*['"]?#[A-Za-z_][\w.:-]*['"]?\s*\)$""")
_DANGEROUS_VALUE_RE = re.compile(r"(javascript|vbscript|data)\s*:|expression\s*\(|@import|\\", re.IGNORECASE)
_ID_RE = re.compile(r"^[A-Za-z_][\w.:-]{0,127}$")


class SvgRejected(ValueError):
    """The upload is not an SVG drawing we can keep at all (not XML, a DTD/entity attack, too big, not <svg>)."""


@dataclass
class SanitizedSvg:
    """The cleaned markup, the element ids it contains (for bindings), and what the walk removed."""

    markup: str
    ids: set[str] = field(default_factory=set)
    removed: list[str] = field(default_factory=list)


def _local(name: str) -> tuple[str | None, str]:
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return None, name


def _clean_paint_value(value: str) -> str | None:
    """A value that may hold url(...): keep only same-document fragments; None drops the attribute."""
    if _DANGEROUS_VALUE_RE.search(value):
        return None
    if _URL_RE.search(value):
        return value.strip() if _LOCAL_URL_RE.match(value.strip()) else None
    return value


def _clean_style(style: str, removed: list[str], where: str) -> str:
    kept = []
    for declaration in style.split(";"):
        if not declaration.strip():
            continue
        prop, sep, value = declaration.partition(":")
        prop = prop.strip().lower()
        if not sep or prop not in ALLOWED_STYLE_PROPERTIES:
            removed.append(f"style property {prop!r} on {where}")
            continue
        clean = _clean_paint_value(value.strip())
        if clean is None:
            removed.append(f"style value {prop}: {value.strip()[:60]!r} on {where}")
            continue
        kept.append(f"{prop}:{clean}")
    return ";".join(kept)


def _clean_element(el: ET.Element, removed: list[str], ids: set[str]) -> ET.Element:
    _, tag = _local(el.tag)
    out = ET.Element(f"{{{SVG_NS}}}{tag}")
    where = f"<{tag}>"
    for name, value in el.attrib.items():
        ns, attr = _local(name)
        if ns == XLINK_NS and attr == "href":
            attr = "href"
        elif ns is not None:
            removed.append(f"attribute {name!r} on {where}")
            continue
        if attr.lower().startswith("on") or attr not in ALLOWED_ATTRIBUTES:
            removed.append(f"attribute {attr!r} on {where}")
            continue
        if attr == "href":
            # <use href="#part"> may reuse a part of this drawing; nothing may point outside it.
            if not value.startswith("#") or not _ID_RE.match(value[1:]):
                removed.append(f"external reference {value[:80]!r} on {where}")
                continue
        elif attr == "style":
            value = _clean_style(value, removed, where)
            if not value:
                continue
        elif attr == "id":
            if not _ID_RE.match(value):
                removed.append(f"id {value[:40]!r} on {where} (use letters, digits, _ . : -)")
                continue
            ids.add(value)
        else:
            clean = _clean_paint_value(value)
            if clean is None:
                removed.append(f"attribute {attr}={value[:60]!r} on {where}")
                continue
            value = clean
        out.set(attr, value)
    out.text = el.text
    for child in el:
        ns, child_tag = _local(child.tag)
        if ns != SVG_NS or child_tag not in ALLOWED_ELEMENTS:
            removed.append(f"element <{child_tag}>" + (f" ({ns})" if ns not in (None, SVG_NS) else ""))
            # Keep the parent's text flow intact: the dropped element's tail belongs to its parent.
            if child.tail:
                if len(out):
                    out[-1].tail = (out[-1].tail or "") + child.tail
                else:
                    out.text = (out.text or "") + child.tail
            continue
        cleaned = _clean_element(child, removed, ids)
        cleaned.tail = child.tail
        out.append(cleaned)
    return out


def svg_sanitize(raw: str | bytes) -> SanitizedSvg:
    """Parse (defusedxml) and rebuild an SVG drawing from allowlisted elements and attributes only.

    Raises SvgRejected when the input cannot be kept at all; otherwise returns the clean markup and the
    list of what was removed, so the engineer sees exactly what the upload lost.
    """
    try:
        data = raw.encode() if isinstance(raw, str) else raw
    except UnicodeEncodeError:  # a lone surrogate from JSON "\ud800": not text any XML parser could read
        raise SvgRejected("The SVG is not valid Unicode text.")
    if len(data) > MAX_SVG_BYTES:
        raise SvgRejected(f"The SVG is {len(data)} bytes; at most {MAX_SVG_BYTES} are accepted.")
    if not data.strip():
        raise SvgRejected("The SVG is empty.")
    try:
        root = safe_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SvgRejected(f"The SVG was refused: {type(exc).__name__} (DTDs and entities are not allowed).")
    except ParseError as exc:
        raise SvgRejected(f"The file is not well-formed XML: {exc}")
    ns, tag = _local(root.tag)
    if tag != "svg" or ns != SVG_NS:
        raise SvgRejected("The root element must be <svg xmlns=\"http://www.w3.org/2000/svg\">.")
    removed: list[str] = []
    ids: set[str] = set()
    clean = _clean_element(root, removed, ids)
    ET.register_namespace("", SVG_NS)
    markup = ET.tostring(clean, encoding="unicode", short_empty_elements=True)
    return SanitizedSvg(markup=markup, ids=ids, removed=removed)
