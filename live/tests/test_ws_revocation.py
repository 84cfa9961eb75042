"""WebSocket authentication keeps refusing revoked credentials after Redis lost its data (revocation is in
PostgreSQL, Redis only caches it): at the handshake and in the sweep of open connections."""

import pytest

from accounts.services import api_key_create, api_key_revoke, auth_logout, user_disable
from accounts.tokens import issue_token_pair, principal_from_access_token, principal_from_bearer
from accounts.ws_auth import credential_key, revoked_credentials
from live.tests.ws_helpers import open_ws, run
from scada.redis import get_redis

# Channels' database_sync_to_async closes connections around each call: tests need real transactions.
pytestmark = pytest.mark.django_db(transaction=True)


def test_it_refuses_a_logged_out_token_at_the_handshake_after_redis_lost_its_data(operator):
    pair = issue_token_pair(operator)
    auth_logout(principal=principal_from_access_token(pair["token"]))
    get_redis().flushdb()

    async def body():
        comm, connected, _ = await open_ws(pair["token"])
        assert not connected

    run(body)


def test_it_sweeps_out_a_disabled_users_session_after_redis_lost_its_data(admin_user, operator):
    pair = issue_token_pair(operator)
    key = credential_key(principal_from_access_token(pair["token"]), pair["token"])
    user_disable(actor=admin_user, user=operator)
    get_redis().flushdb()
    assert revoked_credentials([key]) == [key]


def test_it_sweeps_out_a_revoked_api_key_after_redis_lost_its_data(admin_user, operator):
    api_key, raw = api_key_create(actor=admin_user, user=operator, name="mes")
    live = issue_token_pair(operator)
    keys = [credential_key(principal_from_bearer(raw), raw),
            credential_key(principal_from_access_token(live["token"]), live["token"])]
    api_key_revoke(actor=admin_user, api_key=api_key)
    get_redis().flushdb()
    assert revoked_credentials(keys) == [keys[0]]
