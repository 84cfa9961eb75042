"""Fixtures of the WebSocket tests (test_ws.py, test_ws_limits.py)."""

import pytest

from accounts.tokens import issue_token_pair
from live.tests.ws_helpers import make_tags


@pytest.fixture
def fresh_channel_layer():
    """Each test runs its own event loop; channels_redis keeps loop-bound locks per layer instance, which a
    daphne process (one loop for life) never notices. A fresh instance per test keeps tests independent."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def token(operator):
    return issue_token_pair(operator)["token"]


@pytest.fixture
def tags3():
    return make_tags(["Reactor_Temp", "Pump_Speed", "Valve_Open"])
