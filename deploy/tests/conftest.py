import pytest
from django.core.management import call_command


@pytest.fixture
def demo_plant(db):
    """The demo plant's configuration (sites, device types, machines, tags, connections, alarms, screens)."""
    call_command("demo_load", verbosity=0)


@pytest.fixture
def exported(demo_plant):
    from deploy.bundle import bundle_export

    return bundle_export()
