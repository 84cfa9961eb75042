"""One OPC UA session (asyncua 2.1) on a private event-loop thread, called synchronously by the loop's thread.

Why a thread: Kiln's poll loops are synchronous (a Celery prefork child, the Redis wake channel, the outbox),
while asyncua is asyncio only. The session's loop thread runs the client, its subscription and a drain task;
data-change notifications become plain tuples on a deque, which the loop thread empties (`take()`), so no
asyncio object crosses threads and no per-notification task is created (asyncua's handler mode creates one task
per notification: at 10,000 items a second that alone is a fifth of a core). A publish response of plain data
changes is decoded by drivers.opcua.publish straight into those tuples (the session's `publish` is replaced on
this client's asyncua session object); anything else goes through asyncua's decoder, its subscription's event
queue and the drain task, as before.

Data: one subscription per session, one monitored item per bound node, ClientHandle = the tag id, an absolute
deadband filter when the binding has one, timestamps Both. Connection loss: asyncua's supervisor probes the
server every `watchdog` seconds (reading ServerStatus.State with a timeout) and calls back here; the session is
then `lost` and the loop reconnects with a fresh client (asyncua's own auto-reconnect is off: the loop owns
back-off, quality and statistics, as for Modbus).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent, StatusChangeEvent
from asyncua.ua.ua_binary import struct_from_binary
from asyncua.ua.uaerrors import UaStructParsingError

from drivers.codec import float32_shortest
from drivers.opcua.publish import decode_publish
from drivers.opcua.quality import epoch_seconds

logger = logging.getLogger(__name__)

__all__ = ["OpcuaSpec", "NodePoint", "OpcuaSession", "OpcuaError", "OpcuaRefused", "CREATE_CHUNK", "client_for"]

CREATE_CHUNK = 1000  # monitored items per CreateMonitoredItems request
QUEUE_SIZE = 10  # samples the server keeps per monitored item between two publishes
_VARIANTS = {v.value: v for v in ua.VariantType}
_FLOAT = ua.VariantType.Float.value


class OpcuaError(Exception):
    """The server could not be reached, or did not answer in time (a communication failure)."""


class OpcuaRefused(Exception):
    """The server answered with a Bad status (a configuration or a permission problem, not the network)."""

    def __init__(self, code: int, what: str):
        self.code = code
        super().__init__(f"{what}: {ua.StatusCode(code).name}")


@dataclass(slots=True, frozen=True)
class OpcuaSpec:
    """What a session needs of a Connection row (a snapshot)."""

    id: int
    name: str
    endpoint_url: str
    timeout: float = 1.0
    backoff_cap: float = 30.0
    security: str = "none"
    server_certificate_sha256: str = ""
    username: str = ""
    password: str | None = None
    session_timeout: float = 60.0
    publishing_interval: int = 100
    pki_dir: str = ""


@dataclass(slots=True, frozen=True)
class NodePoint:
    """One monitored node: which tag it feeds and how the server should sample it."""

    tag_id: int
    name: str
    node_id: str
    sampling_interval: int = 1000
    deadband: float = 0.0
    variant: str = "auto"


async def client_for(spec: OpcuaSpec, *, error: type[Exception], purpose: str = "", **options) -> Client:
    """An asyncua Client for `spec` (identity, user, security), not yet connected; `options` go to Client.

    An untrusted server certificate raises `error` (trust is an engineer's explicit act, drivers.opcua.pki).
    """
    client = Client(spec.endpoint_url, timeout=spec.timeout, **options)
    client.name = client.description = f"Kiln ({spec.name}{', ' + purpose if purpose else ''})"
    client.application_uri = "urn:kiln:scada:client"
    if spec.username:
        client.set_user(spec.username)
        client.set_password(spec.password or "")
    if spec.security != "none":
        from drivers.opcua.pki import UntrustedServer, configure_security

        try:
            await configure_security(client, spec)
        except UntrustedServer as exc:
            raise error(str(exc)) from exc
    return client


def _parameters(p: NodePoint) -> ua.MonitoringParameters:
    # A queue of a few samples: a change the server sampled is kept even when a publish is late (every change
    # recorded); the oldest is dropped only past QUEUE_SIZE changes within one publish.
    params = ua.MonitoringParameters(ClientHandle=p.tag_id, SamplingInterval=float(p.sampling_interval),
                                     QueueSize=QUEUE_SIZE, DiscardOldest=True)
    if p.deadband > 0:
        params.Filter = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValue, DeadbandType=1,
                                            DeadbandValue=float(p.deadband))
    return params


class OpcuaSession:
    """An asyncua Client and its subscription, driven from another thread (see the module docstring)."""

    def __init__(self, spec: OpcuaSpec):
        self.spec = spec
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"opcua-{spec.name}")
        self._thread.start()
        self.client: Client | None = None
        self.sub = None
        self._drain: asyncio.Future | None = None
        # (tag id, value, status code, source time, server time) per notification, times as epoch seconds or
        # None; deque appends are atomic.
        self.pending: deque = deque()
        self.lost_reason: str | None = None
        self.connected = False
        self.server_certificate_sha256: str | None = None
        self.variant_of: dict[int, ua.VariantType] = {}  # tag id → the type its last value came in
        self.item_ids: dict[int, int] = {}  # tag id → the server's MonitoredItemId (for a later modify or delete)
        self.publishes = {"fast": 0, "asyncua": 0}  # publish responses by decoder (drivers.opcua.publish)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro, timeout: float):
        """Run a coroutine on the session's loop and wait for it (at most `timeout` seconds)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError as exc:
            future.cancel()
            raise OpcuaError(f"no answer within {timeout:g} s") from exc

    @property
    def lost(self) -> bool:
        """The open session failed (a closed one is simply not connected: a late callback must not count)."""
        return self.connected and self.lost_reason is not None

    # --- connect / subscribe ----------------------------------------------------------------------------------
    def connect(self, points: list[NodePoint]) -> dict[int, int]:
        """Open the session and monitor `points`. Returns {tag id: status code} of the items the server refused."""
        budget = self.spec.timeout * 4 + 2 + len(points) / 2000
        try:
            return self.call(self._connect(points), budget)
        except (OpcuaError, OpcuaRefused):
            self.close()
            raise
        except (OSError, TimeoutError, ConnectionError) as exc:
            self.close()
            raise OpcuaError(f"cannot connect to {self.spec.endpoint_url}: {exc or type(exc).__name__}") from exc
        except ua.UaStatusCodeError as exc:
            self.close()
            raise OpcuaRefused(exc.code, f"connect to {self.spec.endpoint_url}") from exc
        except ua.UaError as exc:
            self.close()
            raise OpcuaError(f"cannot connect to {self.spec.endpoint_url}: {exc}") from exc

    async def _connect(self, points: list[NodePoint]) -> dict[int, int]:
        spec = self.spec
        watchdog = max(0.5, spec.timeout)
        client = await client_for(spec, error=OpcuaError, watchdog_intervall=watchdog, auto_reconnect=False)
        client.session_timeout = int(spec.session_timeout * 1000)
        client.connection_lost_callback = self._on_lost
        client.uaclient.session.publish = self._publisher(client.uaclient.session)
        self.client = client
        self.lost_reason = None
        await client.connect()
        self.server_certificate_sha256 = spec.server_certificate_sha256 if spec.security != "none" else None
        self.connected = True
        self.item_ids = {}
        self.sub = await client.create_subscription(spec.publishing_interval, None, queue_maxsize=0)
        self._drain = asyncio.ensure_future(self._drain_events(self.sub))
        return await self._monitor(points)

    async def _monitor(self, points: list[NodePoint]) -> dict[int, int]:
        refused: dict[int, int] = {}
        requests = []
        for p in points:
            try:
                node_id = ua.NodeId.from_string(p.node_id)
            except (ValueError, ua.UaError, TypeError):
                refused[p.tag_id] = ua.StatusCodes.BadNodeIdInvalid
                continue
            requests.append((p.tag_id, ua.MonitoredItemCreateRequest(
                ItemToMonitor=ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value),
                MonitoringMode=ua.MonitoringMode.Reporting, RequestedParameters=_parameters(p))))
        for i in range(0, len(requests), CREATE_CHUNK):
            chunk = requests[i:i + CREATE_CHUNK]
            results = await self.sub.create_monitored_items([r for _, r in chunk])
            for (tag_id, _), result in zip(chunk, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    refused[tag_id] = result.value
                else:
                    self.item_ids[tag_id] = result
        return refused

    # --- a configuration change: only the changed items ---------------------------------------------------------
    def update(self, *, add: list[NodePoint], remove: list[int], modify: list[NodePoint]) -> dict[int, int]:
        """Delete, modify and create monitored items on the open subscription; the other items are not touched.

        `remove` are tag ids; `modify` keep their node (sampling interval, deadband). Returns {tag id: status
        code} of what the server refused (a refused modify keeps the item as it was).
        """
        budget = self.spec.timeout * 4 + 2 + (len(add) + len(modify)) / 2000
        return self._request(self._update(add, remove, modify), "update monitored items", budget)

    async def _update(self, add: list[NodePoint], remove: list[int], modify: list[NodePoint]) -> dict[int, int]:
        refused: dict[int, int] = {}
        gone = [self.item_ids.pop(t) for t in remove if t in self.item_ids]
        for i in range(0, len(gone), CREATE_CHUNK):
            # asyncua forgets the client handles too, so a notification already on its way for them is dropped.
            await self.sub.unsubscribe(gone[i:i + CREATE_CHUNK])
        changes = [(p.tag_id, ua.MonitoredItemModifyRequest(MonitoredItemId=self.item_ids[p.tag_id],
                                                            RequestedParameters=_parameters(p)))
                   for p in modify if p.tag_id in self.item_ids]
        for i in range(0, len(changes), CREATE_CHUNK):
            chunk = changes[i:i + CREATE_CHUNK]
            params = ua.ModifyMonitoredItemsParameters(SubscriptionId=self.sub.subscription_id,
                                                       TimestampsToReturn=ua.TimestampsToReturn.Both,
                                                       ItemsToModify=[r for _, r in chunk])
            results = await self.client.uaclient.modify_monitored_items(params)
            for (tag_id, _), result in zip(chunk, results, strict=True):
                if not result.StatusCode.is_good():
                    refused[tag_id] = result.StatusCode.value
        refused.update(await self._monitor(add))
        return refused

    async def _drain_events(self, sub) -> None:
        append = self.pending.append
        while True:
            try:
                ev = await sub.next_event()
            except StopAsyncIteration:
                return
            if isinstance(ev, DataChangeEvent):
                item = ev.data.monitored_item
                dv = item.Value
                status = dv.StatusCode.value if dv.StatusCode is not None else 0
                variant = dv.Value.VariantType if dv.Value is not None else None
                value = ev.value
                if variant is not None and variant != ua.VariantType.Null:
                    self.variant_of[item.ClientHandle] = variant
                    if variant == ua.VariantType.Float and isinstance(value, float):
                        value = float32_shortest(value)  # 72.4, not 72.40000152587891 (as for Modbus registers)
                append((item.ClientHandle, value, status, epoch_seconds(dv.SourceTimestamp),
                        epoch_seconds(dv.ServerTimestamp)))
            elif isinstance(ev, StatusChangeEvent):
                status = ev.notification.Status
                if status is not None and not status.is_good():
                    self.lost_reason = f"subscription ended: {status.name}"

    def _publisher(self, session):
        """The asyncua session's `publish`, decoding plain data changes on the fast path (module docstring)."""

        async def publish(acks: list[ua.SubscriptionAcknowledgement]) -> ua.PublishResponse:
            request = ua.PublishRequest()
            request.Parameters.SubscriptionAcknowledgements = acks or []
            data = await session._send_request(request, timeout=0)
            decoded = decode_publish(data)
            if decoded is None:
                self.publishes["asyncua"] += 1
                try:
                    return struct_from_binary(ua.PublishResponse, data)
                except Exception as exc:  # as asyncua's own publish: its loop skips an unparsable message
                    logger.exception("Connection %s: cannot parse a publish response", self.spec.name)
                    raise UaStructParsingError from exc
            response, rows = decoded
            self.publishes["fast"] += 1
            self._take_rows(response.Parameters.SubscriptionId, rows)
            return response

        return publish

    def _take_rows(self, subscription_id: int, rows: list[tuple]) -> None:
        sub = self.sub
        if not rows or sub is None or sub.subscription_id != subscription_id:
            return
        # asyncua's own rule: a handle it does not know (an item being deleted) is dropped.
        known = sub._monitored_items
        variant_of = self.variant_of
        append = self.pending.append
        for handle, value, status, vtype, source, server in rows:
            if handle not in known:
                continue
            if vtype:
                variant_of[handle] = _VARIANTS[vtype]
                if vtype == _FLOAT and value is not None:
                    value = float32_shortest(value)  # 72.4, not 72.40000152587891 (as for Modbus registers)
            append((handle, value, status, source, server))

    async def _on_lost(self, exc: Exception) -> None:
        self.lost_reason = f"session lost: {exc or type(exc).__name__}"

    def take(self) -> list[tuple]:
        """Every notification received since the last call, in arrival order."""
        out = []
        pop = self.pending.popleft
        try:
            while True:
                out.append(pop())
        except IndexError:
            return out

    # --- reads and writes -----------------------------------------------------------------------------------
    def read(self, node_id: str) -> ua.DataValue:
        return self._request(self._read(node_id), f"read {node_id}")

    async def _read(self, node_id: str) -> ua.DataValue:
        return await self.client.get_node(node_id).read_data_value(raise_on_bad_status=False)

    def write(self, node_id: str, value, variant: ua.VariantType) -> None:
        """Write one value (never retried: a lost reply leaves the outcome unknown)."""
        self._request(self._write(node_id, value, variant), f"write {node_id}")

    async def _write(self, node_id: str, value, variant: ua.VariantType) -> None:
        # Only the value: many servers refuse a write that carries timestamps (BadWriteNotSupported).
        dv = ua.DataValue(ua.Variant(value, variant))
        await self.client.get_node(node_id).write_attribute(ua.AttributeIds.Value, dv)

    def _request(self, coro, what: str, budget: float | None = None):
        if self.client is None or not self.connected or self.lost:
            coro.close()
            raise OpcuaError(f"{what}: not connected")
        try:
            return self.call(coro, budget or self.spec.timeout + 0.5)
        except ua.UaStatusCodeError as exc:
            raise OpcuaRefused(exc.code, what) from exc
        except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
            self.lost_reason = f"{what}: {exc or type(exc).__name__}"
            raise OpcuaError(self.lost_reason) from exc

    # --- teardown ---------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the session (best effort, bounded) and keep the thread for a later connect."""
        self.connected = False
        client, self.client, self.sub = self.client, None, None
        drain, self._drain = self._drain, None
        if client is None and drain is None:
            return

        async def shut():
            if drain is not None:
                drain.cancel()
            if client is not None:
                try:
                    await asyncio.wait_for(client.disconnect(), timeout=max(1.0, self.spec.timeout))
                except Exception:  # noqa: BLE001 - a dead server cannot be told goodbye
                    client.disconnect_socket()

        try:
            self.call(shut(), max(2.0, self.spec.timeout * 2))
        except Exception:  # noqa: BLE001
            logger.debug("Connection %s: closing the OPC UA session failed", self.spec.name, exc_info=True)

    def stop(self) -> None:
        """Close and end the thread."""
        self.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()
