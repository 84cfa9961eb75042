"""Alarm definitions compiled for evaluation: what each enabled alarm judges, indexed by the tags it watches.

alarms.evaluation keeps one `Compiled` per process and rebuilds it (definitions_compile) only when the alarms'
or the tags' configuration version moves, so the hot path never touches the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum

from alarms.choices import AlarmKind
from alarms.runtime import RT_KEY, TIMERS_KEY
from scada.redis import get_redis

logger = logging.getLogger(__name__)

__all__ = ["Op", "CompiledAlarm", "Compiled", "definitions_compile"]


class Op(IntEnum):
    """How a compiled alarm judges a value (several alarm kinds share one comparison)."""

    HIGH = 1
    LOW = 2
    EQUAL = 3
    NOT_EQUAL = 4
    BAD_QUALITY = 5


_OPS = {AlarmKind.HI: Op.HIGH, AlarmKind.HIHI: Op.HIGH, AlarmKind.LO: Op.LOW, AlarmKind.LOLO: Op.LOW,
        AlarmKind.EQUAL: Op.EQUAL, AlarmKind.NOT_EQUAL: Op.NOT_EQUAL, AlarmKind.BAD_QUALITY: Op.BAD_QUALITY}


@dataclass(slots=True)
class CompiledAlarm:
    """One enabled alarm definition on one tag, ready for evaluation without touching the database."""

    alarm_id: int
    tag_id: int
    op: int  # an Op, stored as its plain int (see alarms.evaluation: the hot loop compares ints)
    setpoint: float
    deadband: float
    on_delay: float
    off_delay: float
    suppress: object  # tags.expressions.Expression or None
    refs: dict  # name in the expression -> tag id (None: no such tag)


@dataclass(slots=True)
class Compiled:
    """Every enabled alarm, indexed three ways for the hot loop."""

    by_tag: dict[int, tuple[CompiledAlarm, ...]]  # the alarms on a tag
    by_ref: dict[int, tuple[CompiledAlarm, ...]]  # the alarms whose suppress condition reads a tag (or is on it)
    by_id: dict[int, CompiledAlarm]
    has_suppress: bool  # some alarm has a suppress condition: evaluate them all once after a reload


def definitions_compile() -> Compiled:
    """Compile the enabled alarm definitions (a few queries), and drop runtime state of deleted alarms."""
    from alarms.models import Alarm
    from alarms.services import alarm_instances_sync
    from tags.expressions import ExpressionError
    from tags.expressions import compile as compile_expression
    from tags.models import Tag

    alarm_instances_sync()
    rows = list(
        Alarm.objects.filter(definition__enabled=True).values_list(
            "id", "tag_id", "tag__machine__machine_id", "definition__kind", "definition__setpoint",
            "definition__deadband", "definition__on_delay", "definition__off_delay",
            "definition__suppress_condition", "definition__device_type_tag_id",
        )
    )
    compiled: list[tuple[CompiledAlarm, list[str]]] = []
    wanted_names: set[str] = set()
    for aid, tag_id, machine_id, kind, sp, db, on_d, off_d, cond, dtt_id in rows:
        expr, names = None, []
        if cond and cond.strip():
            try:
                expr = compile_expression(cond, namespaces={"tags"})
            except ExpressionError as exc:
                logger.error("Alarm %s: suppress condition %r does not compile (%s); ignored", aid, cond, exc)
            if expr is not None:
                # On a device type member, {tags.X} is member X of the same instance.
                names = [(n, f"{machine_id}.{n}" if dtt_id else n) for n in expr.names("tags")]
                wanted_names.update(full for _, full in names)
        c = CompiledAlarm(aid, tag_id, int(_OPS[kind]), float(sp) if sp is not None else 0.0, float(db or 0),
                          float(on_d or 0), float(off_d or 0), expr, {})
        compiled.append((c, names))
    ids_by_name = dict(Tag.objects.filter(name__in=wanted_names).values_list("name", "id")) if wanted_names else {}
    by_tag: dict[int, list] = {}
    by_ref: dict[int, list] = {}
    for c, names in compiled:
        by_tag.setdefault(c.tag_id, []).append(c)
        if c.suppress is not None:
            c.refs = {short: ids_by_name.get(full) for short, full in names}
            for tid in {c.tag_id, *(t for t in c.refs.values() if t is not None)}:
                by_ref.setdefault(tid, []).append(c)
    _forget_deleted(set(Alarm.objects.values_list("id", flat=True)))
    return Compiled(by_tag={k: tuple(v) for k, v in by_tag.items()}, by_ref={k: tuple(v) for k, v in by_ref.items()},
                    by_id={c.alarm_id: c for c, _ in compiled},
                    has_suppress=any(c.suppress is not None for c, _ in compiled))


def _forget_deleted(existing: set[int]) -> None:
    r = get_redis()
    stale = [f for f in r.hkeys(RT_KEY) if int(f) not in existing]
    if stale:
        pipe = r.pipeline(transaction=False)
        pipe.hdel(RT_KEY, *stale)
        pipe.zrem(TIMERS_KEY, *stale)
        pipe.execute()
