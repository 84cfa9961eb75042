"""The test instance's HTTP client for production's receive endpoint (standard library only).

A bundle travels gzip-compressed (`application/vnd.kiln.bundle+gzip`): a 20,000-tag configuration is tens of
megabytes of JSON but about a megabyte compressed, so it fits production's ordinary request-size limit, and the
receiving side bounds what it inflates (deploy.api.parsers). Every failure to get an answer is a
TargetUnavailable with a sentence saying what happened; production's own refusals come back as they were sent.
"""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings

__all__ = ["BUNDLE_MEDIA_TYPE", "TargetUnavailable", "TargetAnswer", "target_post", "RECEIVE_PATH"]

BUNDLE_MEDIA_TYPE = "application/vnd.kiln.bundle+gzip"
RECEIVE_PATH = "/api/system/deploy/receive"
MAX_ANSWER_BYTES = 50_000_000


class TargetUnavailable(Exception):
    """Production could not be reached or did not answer as a Kiln would (detail: what happened)."""


@dataclass
class TargetAnswer:
    status: int
    body: dict


def target_post(payload: dict, *, url: str | None = None, api_key: str | None = None,
                timeout: float | None = None) -> TargetAnswer:
    """POST `payload` to production's receive endpoint; its status and JSON answer, or TargetUnavailable."""
    base = (url if url is not None else settings.KILN_DEPLOY_TARGET_URL).rstrip("/")
    key = api_key if api_key is not None else settings.KILN_DEPLOY_TARGET_API_KEY
    timeout = timeout or settings.KILN_DEPLOY_TIMEOUT_SECONDS
    if not base.startswith(("http://", "https://")):
        raise TargetUnavailable(f"KILN_DEPLOY_TARGET_URL must be an http:// or https:// URL, not {base[:100]!r}")
    body = gzip.compress(json.dumps(payload, ensure_ascii=True, allow_nan=False).encode(), compresslevel=5)
    request = urllib.request.Request(base + RECEIVE_PATH, data=body, method="POST", headers={  # noqa: S310 - http(s)
        "Content-Type": BUNDLE_MEDIA_TYPE, "Accept": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - checked above
            status, raw = response.status, response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read(MAX_ANSWER_BYTES)
    except TimeoutError:
        raise TargetUnavailable(f"Production at {base} did not answer within {timeout:g} s")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TargetUnavailable(f"Production at {base} is unreachable: {reason}")
    try:
        answer = json.loads(raw)
    except ValueError:
        raise TargetUnavailable(f"Production at {base} answered {status} without JSON (is it a Kiln?)")
    if not isinstance(answer, dict):
        raise TargetUnavailable(f"Production at {base} answered {status} with unexpected JSON")
    return TargetAnswer(status=status, body=answer)
