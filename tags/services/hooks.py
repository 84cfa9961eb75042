"""Tag-deleted hooks: other apps (the historian) clean up after a tag's deletion without `tags` importing them."""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

__all__ = ["register_tag_deleted_hook"]

_tag_deleted_hooks: list[tuple[str, Callable[[int, str], None]]] = []


def register_tag_deleted_hook(name: str, fn: Callable[[int, str], None]) -> None:
    """Run fn(tag_id, tag_name) after a tag's deletion commits (e.g. the historian dropping its samples).

    Like register_value_consumer: other apps subscribe from their AppConfig.ready(), so `tags` imports none of
    them. Idempotent by name.
    """
    for i, (existing, _) in enumerate(_tag_deleted_hooks):
        if existing == name:
            _tag_deleted_hooks[i] = (name, fn)
            return
    _tag_deleted_hooks.append((name, fn))


def _run_tag_deleted_hooks(tag_id: int, name: str) -> None:
    for hook_name, fn in list(_tag_deleted_hooks):
        try:
            fn(tag_id, name)
        except Exception:
            # The tag is gone either way; one subscriber's failure must not hide the others' clean-up.
            logger.exception("Tag-deleted hook %s failed for tag %s (id %s)", hook_name, name, tag_id)
