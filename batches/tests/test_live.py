"""Batches on the WebSocket: a page follows a batch ({"type": "subscribe_batch"}) and hears of each change."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.tokens import issue_token_pair
from batches.selectors import batch_ebr, batch_get
from batches.services import batch_comment_add, batch_phase_complete, batch_start

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


async def _open(user):
    from scada.asgi import application

    token = await sync_to_async(lambda: issue_token_pair(user)["token"])()
    comm = WebsocketCommunicator(application, f"/ws?token={token}", headers=[ORIGIN])
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return comm


@pytest.fixture
def running(approved_recipe, supervisor):
    return batch_start(recipe="reactor-heat-cycle", machine_id="reactor-01", lot="L-WS", parameters={},
                       user=supervisor)


def test_a_follower_gets_the_batch_state_then_each_change(running, operator):
    async def body():
        comm = await _open(operator)
        await comm.send_json_to({"type": "subscribe_batch", "batch": running.pk, "id": 3})
        reply = await comm.receive_json_from(timeout=5)
        ebr = await sync_to_async(lambda: batch_ebr(batch_get(pk=running.pk)))()
        assert reply == {"type": "batch_subscribed", "batch": running.pk, "status": "running", "current_phase": 1,
                         "record_hash": ebr["record_hash"], "id": 3}
        await sync_to_async(batch_phase_complete)(batch=running, position=1, user=operator, action="confirm")
        assert await comm.receive_json_from(timeout=5) == {"type": "batch", "batch": running.pk,
                                                            "event": "phase_complete"}
        await sync_to_async(batch_comment_add)(batch=running, user=operator, text="noted")
        assert (await comm.receive_json_from(timeout=5))["event"] == "comment"
        await comm.disconnect()

    async_to_sync(body)()


def test_a_change_that_rolls_back_is_not_pushed(running, operator):
    async def body():
        comm = await _open(operator)
        await comm.send_json_to({"type": "subscribe_batch", "batch": running.pk})
        await comm.receive_json_from(timeout=5)
        with pytest.raises(Exception, match="active"):
            await sync_to_async(batch_phase_complete)(batch=running, position=2, user=operator, action="confirm")
        assert await comm.receive_nothing(timeout=0.5)
        await comm.disconnect()

    async_to_sync(body)()


def test_other_batches_changes_are_not_sent(running, operator, supervisor, approved_recipe):
    async def body():
        comm = await _open(operator)
        await comm.send_json_to({"type": "subscribe_batch", "batch": running.pk})
        await comm.receive_json_from(timeout=5)
        from batches.models import Batch

        other = await sync_to_async(Batch.objects.create)(
            recipe=approved_recipe, machine_id=running.machine_id, lot="X", started_by=supervisor,
            started_at=running.started_at, status="complete")
        await sync_to_async(batch_comment_add)(batch=other, user=operator, text="elsewhere")
        assert await comm.receive_nothing(timeout=0.5)
        await comm.disconnect()

    async_to_sync(body)()


@pytest.mark.parametrize("batch", [None, "1", True, 0, 10**30, 999999])
def test_a_bad_or_unknown_batch_is_an_error_frame(operator, batch):
    async def body():
        comm = await _open(operator)
        await comm.send_json_to({"type": "subscribe_batch", "batch": batch})
        frame = await comm.receive_json_from(timeout=5)
        assert frame["type"] == "error"
        await comm.disconnect()

    async_to_sync(body)()


def test_unsubscribe_stops_the_pushes(running, operator):
    async def body():
        comm = await _open(operator)
        await comm.send_json_to({"type": "subscribe_batch", "batch": running.pk})
        await comm.receive_json_from(timeout=5)
        await comm.send_json_to({"type": "unsubscribe_batch", "batch": running.pk})
        assert (await comm.receive_json_from(timeout=5))["type"] == "batch_unsubscribed"
        await sync_to_async(batch_comment_add)(batch=running, user=operator, text="after")
        assert await comm.receive_nothing(timeout=0.5)
        await comm.disconnect()


    async_to_sync(body)()
