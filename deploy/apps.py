from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ROLES = ("", "test", "production")


class DeployConfig(AppConfig):
    """Configuration as code (bundles, CSV bulk edits) and deploys from a test instance to production."""

    name = "deploy"
    verbose_name = "Configuration and deploys"

    def ready(self):
        # Refuse to start with a role nobody means (a typo would silently make a production instance refuse deploys).
        if settings.KILN_INSTANCE_ROLE not in ROLES:
            raise ImproperlyConfigured(f"KILN_INSTANCE_ROLE must be test, production or empty, not "
                                       f"{settings.KILN_INSTANCE_ROLE!r}")
