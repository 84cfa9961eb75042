"""Refused batch and recipe actions on the audit trail (21 CFR Part 11 asks for attempts, not only changes).

A batch action refused for what the record or the plant's state is (409) or for what was asked (422) leaves a
`batch.<action>_refused` / `recipe.<action>_refused` record naming who, what and why. Malformed input (400) and
signature failures are not recorded here: the first changes nothing worth a record, the second is already
recorded (and counted toward lockout) by the signature service.
"""

from __future__ import annotations

import functools
import logging

from django.db import DatabaseError, transaction

from accounts.audit import audit_record
from scada.errors import Conflict, Unprocessable
from scada.text import printable

__all__ = ["refusal_audited"]

logger = logging.getLogger(__name__)


def _subject(kwargs: dict) -> tuple[str, str, dict]:
    batch, recipe = kwargs.get("batch"), kwargs.get("recipe")
    if batch is not None:
        return "batch", str(batch.pk), {}
    if recipe is not None and hasattr(recipe, "pk"):
        return "recipe", f"{recipe.name}@{recipe.version}", {}
    # batch_start: no batch exists yet; what was asked is the subject.
    asked = {key: printable(kwargs.get(key), 200) for key in ("recipe", "machine_id", "lot")}
    return "batch", "", asked


def refusal_audited(action: str):
    """Decorate a batch/recipe service: a 409 or 422 it raises is audited (committed on its own) and re-raised.

    An error the service has audited itself (marked `audited`) is not recorded twice. If the trail is down the
    refusal still stands (nothing was acted on), so that failure is logged, not raised.
    """
    def decorate(service):
        @functools.wraps(service)
        def wrapper(*args, **kwargs):
            try:
                return service(*args, **kwargs)
            except (Conflict, Unprocessable) as exc:
                if not getattr(exc, "audited", False):
                    _record(action, kwargs, exc)
                raise
        return wrapper
    return decorate


def _record(action: str, kwargs: dict, exc) -> None:
    object_type, object_id, asked = _subject(kwargs)
    details = {"status": exc.status_code, "error": printable(exc.detail), **asked}
    if "position" in kwargs:
        details["phase"] = printable(kwargs["position"], 20)
    try:
        with transaction.atomic():
            audit_record(action=f"{object_type}.{action}_refused", user=kwargs.get("user"),
                         object_type=object_type, object_id=object_id, new_value=details)
    except DatabaseError:
        logger.exception("Could not audit a refused %s on %s %s", action, object_type, object_id)
