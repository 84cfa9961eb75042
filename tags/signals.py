"""Domain events of the tags app, for fan-out where order does not matter (docs/architecture.md, "Extending Kiln").

Receivers connect in their own AppConfig.ready(), so `tags` imports none of them. Each event is sent with
`send_robust`: one failing receiver is logged and the others still run.
"""

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

__all__ = ["tag_deleted", "tag_deleted_send"]

# A tag's deletion committed. Arguments: tag_id (int), name (str). Receivers drop what they keep per tag
# (the historian: its samples, historian.services.historian_tag_deleted).
tag_deleted = Signal()


def tag_deleted_send(tag_id: int, name: str) -> None:
    """Tell every receiver that tag `tag_id` (`name`) is gone; call once the delete has committed."""
    for receiver, result in tag_deleted.send_robust(sender=None, tag_id=tag_id, name=name):
        if isinstance(result, Exception):
            # The tag is gone either way; one receiver's failure must not hide the others' clean-up.
            logger.error("Tag-deleted receiver %r failed for tag %s (id %s)", receiver, name, tag_id,
                         exc_info=result)
