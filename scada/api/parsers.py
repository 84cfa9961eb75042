"""The API's one JSON parser: DRF's, with the bounds that keep hostile bodies from reaching a view.

Every request body under /api/ goes through here (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]), so one place
refuses, with a 400 and a clear {"detail"}, what would otherwise fail deep inside a view as a 500:
- nesting deeper than MAX_JSON_DEPTH (the stdlib decoder recurses; 100 000 `[` overflow the stack, and a
  few hundred levels still break the audit trail's orjson encoder, whose limit is 254);
- a NUL character in any string or key (PostgreSQL text cannot hold one: the query fails with DataError);
- an integer no 64-bit float can hold (a REAL tag or a limit check converts to float: OverflowError);
- a float literal that overflows to infinity (1e400), like the NaN/Infinity constants DRF already refuses.
A body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused before parsing, with 413 (scada.middleware).
"""

from __future__ import annotations

import codecs
import json
import math
import sys

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.utils import json as drf_json

__all__ = ["KilnJSONParser", "MAX_JSON_DEPTH", "json_problem"]

# Kiln's deepest legitimate body is a batch write with a signature (about 4 levels); 32 leaves room for
# screen definitions and JSON tag values without letting a body exhaust the stack.
MAX_JSON_DEPTH = 32
NUL_MESSAGE = "JSON strings must not contain NUL characters."


def _parse_int(text: str) -> int:
    value = int(text)
    if abs(value) > sys.float_info.max:
        shown = text if len(text) <= 24 else f"{text[:12]}…({len(text)} digits)"
        raise ValueError(f"the number {shown} is too large (at most ±{sys.float_info.max:.6g})")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:24]} is out of range (at most ±{sys.float_info.max:.6g})")
    return value


def json_problem(data, *, allow_nul: bool = False) -> str | None:
    """What makes parsed JSON unacceptable (too deep, a NUL in a string or key), or None.

    `allow_nul`: the view checks NUL itself, field by field (an unknown key is refused as such): the write
    paths answer a refused write per field or per batch item and audit it as an attempt, which a parser-level
    400 could not do.

    Iterative, so checking a deep document cannot itself overflow the stack.
    """
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if not allow_nul and "\x00" in node:
                return NUL_MESSAGE
            continue
        if isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)."
            if isinstance(node, dict):
                stack.extend((key, depth) for key in node)
                stack.extend((value, depth + 1) for value in node.values())
            else:
                stack.extend((item, depth + 1) for item in node)
    return None


class KilnJSONParser(JSONParser):
    """DRF's JSON parser, bounded in depth and numbers, refusing NUL characters (see the module docstring)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding") or "utf-8"
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(text, parse_constant=drf_json.strict_constant if api_settings.STRICT_JSON else None,
                              parse_int=_parse_int, parse_float=_parse_float)
        except RecursionError:
            raise ParseError(f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels).")
        except ValueError as exc:  # JSONDecodeError, bad encoding, our number bounds
            raise ParseError(f"JSON parse error - {exc}")
        view = parser_context.get("view")
        problem = json_problem(data, allow_nul=getattr(view, "json_nul_checked_by_view", False))
        if problem:
            raise ParseError(problem)
        return data
