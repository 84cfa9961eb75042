"""Twisted's table of HTTP reason phrases, completed where daphne would otherwise say "Unknown Status".

daphne answers with `request.setResponseCode(status)` and no phrase, so Twisted looks the phrase up in
`twisted.web.http.RESPONSES` (a module-level dict) and falls back to b"Unknown Status". Twisted knows no 429
(RFC 6585), which every rate-limited answer carries, so `add_reason_phrases()` (called by scada/asgi.py) adds
the standard phrase. It only fills gaps (setdefault): once Twisted knows a code, its own phrase wins.

Framework internals this relies on (tests/test_framework_overrides.py; re-check on a daphne or Twisted upgrade,
then move the pin): `twisted.web.http.RESPONSES` is still the dict `Request.setResponseCode` reads, and daphne
still calls `setResponseCode(status)` without a message.
"""

from __future__ import annotations

__all__ = ["VERIFIED_AGAINST", "MISSING_PHRASES", "add_reason_phrases"]

VERIFIED_AGAINST = {"daphne": "4.2.3", "twisted": "26.10.0"}
RECHECK = ("twisted.web.http.RESPONSES is still what Request.setResponseCode(code) reads for the phrase, and "
           "daphne.http_protocol still calls setResponseCode(status) without one; if Twisted now knows 429, "
           "drop this file")

MISSING_PHRASES = {429: b"Too Many Requests"}


def add_reason_phrases() -> bool:
    """Give Twisted the phrases it lacks; False when Twisted is not installed (served by something else)."""
    try:
        from twisted.web import http
    except ImportError:
        return False
    for code, phrase in MISSING_PHRASES.items():
        http.RESPONSES.setdefault(code, phrase)
    return True
