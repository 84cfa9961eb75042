"""The fast publish path: the simulator's encoder writes asyncua's bytes, and Kiln's decoder reads what asyncua's
decoder reads (drivers.opcua.simspeed, drivers.opcua.publish), or hands the message back to asyncua."""

from datetime import UTC, datetime

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import extensionobject_to_binary, struct_from_binary, struct_to_binary

from drivers.opcua.publish import decode_publish
from drivers.opcua.quality import epoch_seconds
from drivers.opcua.simspeed import _data_changes, encode_response

NOW = datetime(2026, 12, 6, 18, 0, 0, 123456, tzinfo=UTC)


def dv(variant: ua.Variant | None, status: int | None = 0, source=NOW, server=NOW) -> ua.DataValue:
    value = ua.DataValue(variant, SourceTimestamp=source, ServerTimestamp=server)
    value.StatusCode = ua.StatusCode(status) if status is not None else None
    return value


SCALARS = [
    dv(ua.Variant(72.5, ua.VariantType.Double)),
    dv(ua.Variant(1.5, ua.VariantType.Float), source=None),
    dv(ua.Variant(True, ua.VariantType.Boolean), status=None, server=None),
    dv(ua.Variant(-7, ua.VariantType.Int16)),
    dv(ua.Variant(2 ** 40, ua.VariantType.UInt64)),
    dv(ua.Variant("héllo", ua.VariantType.String), status=0x40920000),  # UncertainInitialValue
    dv(ua.Variant(None, ua.VariantType.String)),
    dv(ua.Variant(), status=0x80310000, source=None),  # BadNoCommunication, no value
]


def response(*notifications, available=(3, 4), results=(0,)) -> ua.PublishResponse:
    return ua.PublishResponse(Parameters=ua.PublishResult(
        SubscriptionId=7, AvailableSequenceNumbers=list(available), Results=[ua.StatusCode(r) for r in results],
        NotificationMessage=ua.NotificationMessage(SequenceNumber=4, PublishTime=NOW,
                                                   NotificationData=list(notifications))))


def changes(values) -> ua.DataChangeNotification:
    return ua.DataChangeNotification(MonitoredItems=[ua.MonitoredItemNotification(ClientHandle=i + 1, Value=v)
                                                     for i, v in enumerate(values)])


def test_it_encodes_data_changes_as_asyncua_does():
    assert _data_changes(changes(SCALARS)) == extensionobject_to_binary(changes(SCALARS))  # the fast path itself
    for resp in (response(changes(SCALARS)), response(changes(SCALARS[:2]), changes(SCALARS[2:]), available=()),
                 response(changes(SCALARS), ua.StatusChangeNotification(Status=ua.StatusCode(0x800D0000))),
                 response(changes([dv(ua.Variant([1.0, 2.0], ua.VariantType.Double))]), results=(0, 0x80000000)),
                 response(changes([])), response()):
        assert encode_response(resp) == struct_to_binary(resp)


def test_it_decodes_plain_data_changes_as_asyncua_does():
    raw = struct_to_binary(response(changes(SCALARS)))
    ours, rows = decode_publish(Buffer(raw))
    theirs = struct_from_binary(ua.PublishResponse, Buffer(raw))
    assert ours.ResponseHeader == theirs.ResponseHeader
    assert ours.Parameters.SubscriptionId == 7 and ours.Parameters.AvailableSequenceNumbers == [3, 4]
    assert ours.Parameters.NotificationMessage.SequenceNumber == 4 and ours.Parameters.Results == [ua.StatusCode(0)]
    # One empty DataChangeNotification stands for the data, so asyncua's publish loop acknowledges the message.
    assert ours.Parameters.NotificationMessage.NotificationData == [ua.DataChangeNotification()]
    expected = [(item.ClientHandle, item.Value.Value.Value, item.Value.StatusCode.value, item.Value.Value.VariantType,
                 epoch_seconds(item.Value.SourceTimestamp), epoch_seconds(item.Value.ServerTimestamp))
                for item in theirs.Parameters.NotificationMessage.NotificationData[0].MonitoredItems]
    assert [(h, v, s, ua.VariantType(t), src, srv) for h, v, s, t, src, srv in rows] == expected
    assert rows[0] == (1, 72.5, 0, 11, NOW.timestamp(), NOW.timestamp())


def test_anything_else_is_left_to_asyncua():
    for resp in (response(changes(SCALARS), ua.StatusChangeNotification(Status=ua.StatusCode(0x800D0000))),
                 response(changes([dv(ua.Variant([1.0, 2.0], ua.VariantType.Double))])),
                 response(changes([dv(ua.Variant(NOW, ua.VariantType.DateTime))]))):
        assert decode_publish(Buffer(struct_to_binary(resp))) is None
    fault = ua.ServiceFault()
    assert decode_publish(Buffer(struct_to_binary(fault))) is None
    assert decode_publish(Buffer(struct_to_binary(response(changes(SCALARS)))[:-3])) is None  # truncated


def test_a_real_session_takes_plain_changes_on_the_fast_path_and_the_rest_through_asyncua():
    from drivers.opcua.session import NodePoint, OpcuaSession, OpcuaSpec
    from drivers.opcua.sim import OpcuaSim, SimThread
    from tests.servers import free_port, wait_for

    sim = SimThread(OpcuaSim(port=free_port(), variables={"A.x": (1.5, "Float", False),
                                                          "A.t": (NOW, "DateTime", False)})).start()
    session = OpcuaSession(OpcuaSpec(id=1, name="t", endpoint_url=sim.sim.endpoint, timeout=5.0,
                                     publishing_interval=20))
    try:
        assert session.connect([NodePoint(tag_id=7, name="x", node_id=sim.sim.node_id("A.x")),
                                NodePoint(tag_id=8, name="t", node_id=sim.sim.node_id("A.t"))]) == {}
        got = []
        assert wait_for(lambda: got.extend(session.take()) or {7, 8} <= {row[0] for row in got}, timeout=10)
        sim.set("A.x", 72.4)
        assert wait_for(lambda: got.extend(session.take()) or any(r[:2] == (7, 72.4) for r in got), timeout=10)
        row = next(r for r in got if r[:2] == (7, 72.4))
        assert row[2] == 0 and abs(row[3] - datetime.now(UTC).timestamp()) < 10  # Good, epoch seconds
        assert session.variant_of[7] == ua.VariantType.Float
        assert next(r for r in got if r[0] == 8)[1] == NOW  # a DateTime: asyncua decoded it
        assert session.publishes["fast"] >= 1 and session.publishes["asyncua"] >= 1
    finally:
        session.stop()
        sim.close()
