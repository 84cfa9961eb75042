"""Demo plant drivers: the simulated PLC connection (127.0.0.1:$PLCSIM_PORT) and the demo tags bound to it.

Runs after the tag loader (order 20 > 10) but also works before it: tags that do not exist yet are skipped and
bound on the next run. Idempotent: an existing connection or binding is kept as an engineer may have changed it.
"""

from __future__ import annotations

import os

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.audit import audit_record
from drivers.models import Connection, TagBinding
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
