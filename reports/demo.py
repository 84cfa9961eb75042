"""Demo reports (manage.py demo_load, after the plant's tags): the shift and tag-history reports show the demo
plant's analog tags, so `make run` can print a shift report at once. Idempotent: a definition that already has
tags (an engineer chose them) is left alone."""

from __future__ import annotations

from reports.models import ReportDefinition
from tags.models import Tag

DEMO_TAGS = ["Reactor_Temp", "Reactor_Temp_SP", "Reactor_Pressure", "Temp_PV", "pump-01.Speed", "pump-01.Current",
             "pump-01.BearingTempDE", "pump-02.Speed"]


def load_reports() -> str:
    tags = list(Tag.objects.filter(name__in=DEMO_TAGS, datatype__in=["REAL", "INT"]))
    if not tags:
        return "skipped (the demo plant is missing)"
    done = []
    for definition in ReportDefinition.objects.filter(slug__in=["shift", "tag-history"]):
        if not definition.tags.exists():
            definition.tags.set(tags)
            done.append(definition.slug)
    return f"tags set on {', '.join(done)}" if done else "existing"
