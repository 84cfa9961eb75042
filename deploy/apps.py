from django.apps import AppConfig


class DeployConfig(AppConfig):
    """Configuration as code (bundles, CSV bulk edits) and deploys from a test instance to production."""

    name = "deploy"
    verbose_name = "Configuration and deploys"
