"""Browse an OPC UA server's address space, for engineers picking nodes instead of typing NodeIds.

One short session per request (the connection's endpoint, security and user), bounded by the connection's
timeout: browsing is rare and must not borrow the worker's session, which lives in another process. Security
works as for the data session: a secure connection whose server certificate is not trusted yet is refused.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

__all__ = ["BrowseError", "NodeMissing", "opcua_browse", "MAX_CHILDREN"]

MAX_CHILDREN = 1000  # one page of children; a folder with more is cut (and says so)


class BrowseError(Exception):
    """The server could not be reached, or refused the session."""


class NodeMissing(Exception):
    """The server does not know the node."""


@dataclass(frozen=True, slots=True)
class Child:
    node_id: str
    browse_name: str
    display_name: str
    node_class: str
    data_type: str | None
    value: object
    has_children: bool


async def _browse(spec, node_id: str | None) -> dict:
    from asyncua import ua

    from drivers.opcua.session import client_for

    client = await client_for(spec, error=BrowseError, purpose="browse")
    await client.connect()
    try:
        node = client.get_node(node_id) if node_id else client.nodes.objects
        try:
            await node.read_browse_name()
        except ua.UaStatusCodeError as exc:
            raise NodeMissing(f"the server has no node {node_id} ({exc.code:#010x})") from exc
        refs = await node.get_references(refs=ua.ObjectIds.HierarchicalReferences,
                                         direction=ua.BrowseDirection.Forward)
        truncated = len(refs) > MAX_CHILDREN
        children = []
        for ref in refs[:MAX_CHILDREN]:
            child = client.get_node(ref.NodeId)
            data_type, value = None, None
            if ref.NodeClass == ua.NodeClass.Variable:
                try:
                    dv = await child.read_data_value(raise_on_bad_status=False)
                    if dv.Value is not None:
                        data_type = dv.Value.VariantType.name
                        value = dv.Value.Value if isinstance(dv.Value.Value, bool | int | float | str) else None
                except (ua.UaError, OSError):
                    pass
            children.append(Child(
                node_id=ref.NodeId.to_string(), browse_name=ref.BrowseName.to_string(),
                display_name=ref.DisplayName.Text or ref.BrowseName.Name, node_class=ref.NodeClass.name,
                data_type=data_type, value=value,
                has_children=ref.NodeClass in (ua.NodeClass.Object, ua.NodeClass.View)))
        return {"node_id": node.nodeid.to_string(), "children": children, "truncated": truncated}
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), timeout=max(1.0, spec.timeout))
        except Exception:  # noqa: BLE001 - the answer is in hand; a failing goodbye changes nothing
            client.disconnect_socket()


def opcua_browse(connection, node_id: str | None = None) -> dict:
    """The children of `node_id` (Objects when None) on the connection's server. Raises BrowseError, NodeMissing."""
    from asyncua import ua

    from drivers.opcua.backend import opcua_spec

    spec = opcua_spec(connection)
    budget = spec.timeout * 4 + 3

    async def bounded():
        return await asyncio.wait_for(_browse(spec, node_id), timeout=budget)

    try:
        return asyncio.run(bounded())
    except (NodeMissing, BrowseError):
        raise
    except (TimeoutError, OSError, ConnectionError) as exc:
        raise BrowseError(f"no answer from {spec.endpoint_url} ({exc or type(exc).__name__})") from exc
    except ua.UaError as exc:
        raise BrowseError(f"{spec.endpoint_url} refused: {exc}") from exc
