"""Demo plant drivers: the simulated PLC connection (127.0.0.1:$PLCSIM_PORT) and the demo tags bound to it.

Runs after the tag loader (order 20 > 10) but also works before it: tags that do not exist yet are skipped and
bound on the next run. Idempotent: an existing connection or binding is kept as an engineer may have changed it.
"""

from __future__ import annotations

import os

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.audit import audit_record
from drivers.models import Connection, NodeBinding, TagBinding
from drivers.plcsim import DEMO_MAP
from tags.models import Tag

CONNECTION_NAME = "plcsim"


@transaction.atomic
def load_drivers() -> str:
    port = int(os.environ.get("PLCSIM_PORT") or 5020)
    conn, created = Connection.objects.get_or_create(
        name=CONNECTION_NAME,
        defaults={"description": "Simulated PLC of the demo plant (manage.py plcsim)", "host": "127.0.0.1",
                  "port": port, "unit_id": 1, "timeout": 0.5, "backoff_cap": 10.0},
    )
    if not created and conn.port != port and conn.host == "127.0.0.1":
        conn.port = port  # `make run` may move the simulator to another port between runs
        conn.save(update_fields=["port", "last_updated"])
    tags = {t.name: t for t in Tag.objects.filter(name__in=[e.tag for e in DEMO_MAP])}
    bound = set(TagBinding.objects.filter(tag__in=tags.values()).values_list("tag__name", flat=True))
    made, skipped = [], []
    for e in DEMO_MAP:
        tag = tags.get(e.tag)
        if tag is None or e.tag in bound:
            continue
        b = TagBinding(tag=tag, connection=conn, table=e.table, address=e.address, data_type=e.data_type,
                       string_length=e.string_length, word_order=e.word_order, scan_period=e.scan_period)
        if e.scaling:
            b.raw_low, b.raw_high, b.eu_low, b.eu_high = e.scaling
        try:
            b.full_clean()
        except ValidationError as exc:
            skipped.append(f"{e.tag} ({'; '.join(m for ms in exc.message_dict.values() for m in ms)})")
            continue
        b.save()
        made.append(e.tag)
    if created or made:
        audit_record(action="driver.demo_load", object_type="connection", object_id=conn.pk,
                     new_value={"connection": conn.name, "port": conn.port, "bound": made}, reason="demo_load")
    missing = len([e for e in DEMO_MAP if e.tag not in tags])
    summary = f"connection {conn.name} → 127.0.0.1:{conn.port}, {len(made)} tags bound"
    if missing:
        summary += f", {missing} demo tags not there yet"
    if skipped:
        summary += f", skipped: {', '.join(skipped)}"
    return summary


# The demo plant again over OPC UA (manage.py opcuasim): a second connection and machine, so the plant's values
# can be compared side by side on both protocols. tag, datatype, unit, writable, node (ns=2;s=<plcsim tag>).
OPCUA_CONNECTION_NAME = "opcuasim"
OPCUA_MACHINE = "plant-opcua"
OPCUA_TAGS = [
    ("UA_Reactor_Temp", "REAL", "°C", False, "Reactor_Temp"),
    ("UA_Reactor_Temp_SP", "REAL", "°C", True, "Reactor_Temp_SP"),
    ("UA_Tank_Level", "REAL", "%", False, "Tank_Level"),
    ("UA_Pump_01_Speed", "REAL", "RPM", False, "pump-01.Speed"),
    ("UA_Pump_01_Running", "BOOL", "", False, "pump-01.Running"),
    ("UA_Status_Text", "STRING", "", False, "Status_Text"),
]


@transaction.atomic
def load_opcua_demo() -> str:
    """The `opcuasim` connection (opc.tcp://127.0.0.1:$OPCUASIM_PORT/kiln) and its machine's tags, idempotent.

    Only when OPCUASIM_PORT is set (scripts/run.sh sets it, and starts the simulator): a process that loads the
    demo without the simulator gets no connection that would only ever be BAD.
    """
    from tags.demo import DECIMALS
    from tags.services import tag_create

    if not os.environ.get("OPCUASIM_PORT"):
        return "skipped (OPCUASIM_PORT not set: no OPC UA simulator runs)"
    port = int(os.environ["OPCUASIM_PORT"])
    endpoint = f"opc.tcp://127.0.0.1:{port}/kiln"
    conn = Connection.objects.filter(name=OPCUA_CONNECTION_NAME).first()
    created = conn is None
    if created:
        conn = Connection(name=OPCUA_CONNECTION_NAME, protocol="opcua", endpoint_url=endpoint, timeout=1.0,
                          backoff_cap=10.0, publishing_interval=100,
                          description="The demo plant over OPC UA (manage.py opcuasim)")
        conn.full_clean()
        conn.save()
    elif conn.endpoint_url != endpoint and conn.host == "127.0.0.1":
        conn.endpoint_url = endpoint  # `make run` may move the simulator to another port between runs
        conn.full_clean()
        conn.save(update_fields=["endpoint_url", "host", "port", "last_updated"])
    made = []
    for name, datatype, unit, writable, node in OPCUA_TAGS:
        tag = Tag.objects.filter(name=name).first()
        if tag is None:
            # The same display decimals as the value it mirrors (75.0 °C over Modbus and over OPC UA, not 75 °C).
            tag = tag_create(user=None, machine_id=OPCUA_MACHINE, name=name, datatype=datatype, unit=unit,
                             is_writable=writable, description=f"{node} read over OPC UA",
                             decimals=DECIMALS.get(node.rsplit(".", 1)[-1]))
        if TagBinding.objects.filter(tag=tag).exists() or NodeBinding.objects.filter(tag=tag).exists():
            continue
        b = NodeBinding(tag=tag, connection=conn, node_id=f"ns=2;s={node}", browse_path=f"Objects/Plant/{node}",
                        sampling_interval=250)
        b.full_clean()
        b.save()
        made.append(name)
    if created or made:
        audit_record(action="driver.demo_load", object_type="connection", object_id=conn.pk,
                     new_value={"connection": conn.name, "endpoint_url": conn.endpoint_url, "bound": made},
                     reason="demo_load")
    return f"connection {conn.name} → {conn.endpoint_url}, {len(made)} OPC UA nodes bound"
