"""The historian's receivers of other apps' domain events (connected by importing this module in ready())."""

from django.dispatch import receiver

from tags.signals import tag_deleted


@receiver(tag_deleted, dispatch_uid="historian-tag-deleted")
def historian_on_tag_deleted(sender, *, tag_id: int, name: str, **kwargs) -> None:
    """Deleting a tag deletes its history (seed 000); tags sends tag_deleted once the delete commits."""
    from historian.services import historian_tag_deleted

    historian_tag_deleted(tag_id, name)
