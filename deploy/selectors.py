"""Reads of the deploy app: the version list each instance shows."""

from django.conf import settings

from deploy.models import ConfigVersion, VersionKind

__all__ = ["deploy_versions", "VERSION_FIELDS"]

VERSION_FIELDS = ("number", "kind", "created", "deployed_by", "source", "target", "comment", "base_version",
                  "rolled_back_to", "changes", "summary", "bundle_sha256", "signature")


def deploy_versions(*, limit: int = 200) -> dict:
    """Newest first: on production what it received and rolled back to; on a test instance what it sent."""
    rows = list(ConfigVersion.objects.order_by("-created", "-id").values(*VERSION_FIELDS)[:limit])
    for row in rows:
        row["created"] = row["created"].strftime("%Y-%m-%dT%H:%M:%SZ")
    current = (ConfigVersion.objects.filter(kind__in=[VersionKind.RECEIVED, VersionKind.ROLLBACK])
               .order_by("-number").values_list("number", flat=True).first() or 0)
    return {"instance": settings.KILN_INSTANCE_NAME, "role": settings.KILN_INSTANCE_ROLE, "current": current,
            "versions": rows}
