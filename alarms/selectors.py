"""Reading alarms: the active list, one alarm's summary, a device's alarms (seed 004), the journal, the KPIs."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from alarms.choices import ANALOG_KINDS, ANNUNCIATED_STATES, PRIORITY_RANK, AlarmEventType
from alarms.models import Alarm, AlarmEvent
from scada.api.renderers import iso_utc
from scada.errors import BadRequest, NotFound

__all__ = [
    "alarm_queryset", "alarm_active_queryset", "alarm_get", "alarm_summary", "alarms_snapshot",
    "device_alarm_dict", "device_alarms", "device_alarm_get", "alarm_event_queryset", "alarm_event_dict",
    "alarm_events_between", "alarm_limits", "alarm_tag_decimals",
    "alarm_kpis", "alarms_health", "FLOOD_THRESHOLD", "CHATTER_COUNT", "CHATTER_SECONDS", "STALE_AFTER",
]

FLOOD_THRESHOLD = 10  # ISA-18.2: more than 10 alarms in 10 minutes is a flood
PERIOD = timedelta(minutes=10)
CHATTER_COUNT = 3  # ISA-18.2 practice: 3 or more activations of one alarm within a minute is chattering
CHATTER_SECONDS = 60.0
STALE_AFTER = timedelta(hours=24)
MAX_KPI_WINDOW = timedelta(days=31)
MAX_KPI_EVENTS = 500_000


def _priority_rank():
    return Case(*[When(definition__priority=p, then=Value(r)) for p, r in PRIORITY_RANK.items()],
                default=Value(0), output_field=IntegerField())


def alarm_queryset() -> QuerySet[Alarm]:
    """Every alarm of an enabled definition, with what a summary needs in the same query."""
    return Alarm.objects.select_related("definition", "tag__machine").filter(definition__enabled=True)


def alarm_active_queryset() -> QuerySet[Alarm]:
    """Ordered for an alarm list: highest priority first, then the most recent change."""
    return alarm_queryset().annotate(priority_rank=_priority_rank()).order_by(
        "-priority_rank", "-last_transition_at", "id")


def alarm_get(*, pk) -> Alarm:
    alarm = alarm_queryset().filter(pk=pk).first()
    if alarm is None:
        raise NotFound(f"Alarm {pk} not found.")
    return alarm


def alarm_summary(alarm: Alarm) -> dict:
    """The JSON form of one alarm (API list/detail and the WebSocket push share it)."""
    d = alarm.definition
    return {
        "id": alarm.pk,
        "key": d.key,
        "name": d.name,
        "tag": alarm.tag.name,
        "machine": alarm.tag.machine.machine_id,
        "kind": d.kind,
        "priority": d.priority,
        "category": d.category,
        "state": alarm.state,
        "active": alarm.active,
        "acknowledged": alarm.acked,
        "suppressed": alarm.suppressed,
        "shelved": alarm.shelved_until is not None,
        "out_of_service": alarm.out_of_service,
        "message": alarm.message,
        "value": alarm.value,
        "quality": alarm.quality or None,
        "setpoint": d.setpoint,
        # How the tag's numbers are shown (its engineering unit and display decimals), so a client needs no
        # second request to format value and setpoint as the rest of the HMI does.
        "unit": alarm.tag.unit,
        "decimals": alarm.tag.decimals,
        "activated_at": iso_utc(alarm.activated_at),
        "cleared_at": iso_utc(alarm.cleared_at),
        "acked_at": iso_utc(alarm.acked_at),
        "acked_by": alarm.acked_by or None,
        "ack_reason": alarm.ack_reason or None,
        "shelved_at": iso_utc(alarm.shelved_at),
        "shelved_until": iso_utc(alarm.shelved_until),
        "shelved_by": alarm.shelved_by or None,
        "shelve_reason": alarm.shelve_reason or None,
        "last_transition_at": iso_utc(alarm.last_transition_at),
        "ack_requires_reason": d.ack_requires_reason,
        "reason_codes": list(d.reason_codes or []),
        "shelve_requires_reason": d.shelve_requires_reason,
        "seq": alarm.seq,
    }


def alarm_limits(tag_names) -> dict[str, list[dict]]:
    """The analog alarm limits (HIHI/HI/LO/LOLO of enabled definitions) of these tags, keyed by tag name, highest
    limit first: what an HMI draws on an analog indicator and lists on a faceplate. One query."""
    rows = (Alarm.objects.filter(tag__name__in=list(tag_names), definition__enabled=True,
                                 definition__kind__in=list(ANALOG_KINDS), definition__setpoint__isnull=False)
            .values_list("tag__name", "definition__kind", "definition__setpoint", "definition__priority",
                         "definition__key", "definition__name")
            .order_by("tag__name", "-definition__setpoint", "definition__key"))
    out: dict[str, list[dict]] = defaultdict(list)
    for tag, kind, setpoint, priority, key, name in rows:
        out[tag].append({"kind": kind, "setpoint": setpoint, "priority": priority, "key": key, "name": name})
    return dict(out)


def alarm_tag_decimals() -> dict[str, int]:
    """Display decimals of the tags that have alarms and decimals set: how the journal shows its values."""
    rows = (Alarm.objects.filter(tag__decimals__isnull=False).values_list("tag__name", "tag__decimals")
            .distinct().order_by("tag__name")[:20000])
    return dict(rows)


def alarms_snapshot() -> list[dict]:
    """What the HMI banner shows on subscribe: every annunciated alarm."""
    return [alarm_summary(a) for a in alarm_active_queryset().filter(state__in=ANNUNCIATED_STATES)[:1000]]


# --- seed 004 -------------------------------------------------------------------------------------------


def device_alarm_dict(alarm: Alarm) -> dict:
    """Seed 004 form: id (the definition's key), name, priority, category, activatedAt, acknowledged, message."""
    d = alarm.definition
    return {
        "id": d.key,
        "name": d.name,
        "priority": d.priority,
        "category": d.category,
        "activatedAt": iso_utc(alarm.activated_at),
        "acknowledged": alarm.acked,
        "message": alarm.message,
    }


def device_alarms(machine) -> list[dict]:
    """A device's annunciated alarms (active, or returned to normal but not yet acknowledged)."""
    qs = alarm_active_queryset().filter(tag__machine=machine, state__in=ANNUNCIATED_STATES)
    return [device_alarm_dict(a) for a in qs]


def device_alarm_get(*, machine, key: str) -> Alarm:
    alarm = alarm_queryset().filter(tag__machine=machine, definition__key=key).first()
    if alarm is None:
        raise NotFound(f"Alarm '{key}' not found on device '{machine.machine_id}'.")
    return alarm


# --- journal --------------------------------------------------------------------------------------------


def alarm_event_queryset() -> QuerySet[AlarmEvent]:
    return AlarmEvent.objects.order_by("-ts", "-id")


def alarm_event_dict(e: AlarmEvent) -> dict:
    return {
        "id": e.pk,
        "alarm_id": e.alarm_id,
        "ts": iso_utc(e.ts),
        "event": e.event,
        "state_before": e.state_before,
        "state": e.state_after,
        "active": e.active,
        "acknowledged": e.acked,
        "key": e.key,
        "name": e.name or e.key,
        "tag": e.tag_name,
        "machine": e.machine_id,
        "priority": e.priority,
        "category": e.category,
        "value": e.value,
        "quality": e.quality or None,
        "message": e.message,
        "user": e.username or None,
        "reason": e.reason or None,
        "recorded_at": iso_utc(e.created),
    }


def alarm_events_between(*, start: datetime, end: datetime | None, machine_ids=(), tag_names=(),
                         limit: int = 10_000) -> list[dict]:
    """Journal rows in [start, end] (end None: up to now) on these machines or tags, oldest first, as
    alarm_event_dict; at most `limit` (a batch record's "alarms during the batch": raised, acknowledged,
    shelved...)."""
    queryset = AlarmEvent.objects.filter(ts__gte=start)
    if end is not None:
        queryset = queryset.filter(ts__lte=end)
    queryset = queryset.filter(Q(machine_id__in=list(machine_ids)) | Q(tag_name__in=list(tag_names)))
    return [alarm_event_dict(e) for e in queryset.order_by("ts", "id")[:limit]]


# --- KPIs (ISA-18.2 section 16 measures) ----------------------------------------------------------------


def _kpi_window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    end = end or now
    start = start or end - timedelta(hours=24)
    if start >= end:
        raise BadRequest("start must be before end.")
    if end - start > MAX_KPI_WINDOW:
        raise BadRequest(f"The KPI window is at most {MAX_KPI_WINDOW.days} days.")
    return start, end


def _slot(index: int, step: int) -> datetime:
    return datetime.fromtimestamp(index * step, tz=UTC)


def alarm_kpis(*, start: datetime | None = None, end: datetime | None = None, now: datetime | None = None) -> dict:
    """Alarm rate per 10 minutes, floods, chattering, stale, most frequent and shelved alarms for a window.

    Counts annunciations (activation journal rows).
    """
    now = now or timezone.now()
    start, end = _kpi_window(start, end, now)
    rows = list(
        AlarmEvent.objects.filter(event=AlarmEventType.ACTIVATED, ts__gte=start, ts__lt=end)
        .order_by("ts").values_list("alarm_id", "ts", "key", "tag_name", "priority")[:MAX_KPI_EVENTS]
    )
    # Periods are the clock's 10-minute slots (10:00, 10:10, ...), so figures agree between windows.
    step = int(PERIOD.total_seconds())
    first, last = int(start.timestamp()) // step, (int(-(-end.timestamp() // 1)) - 1) // step
    periods = max(1, last - first + 1)
    buckets = Counter(int(ts.timestamp()) // step for _, ts, _, _, _ in rows)
    floods = [
        {"start": iso_utc(max(start, _slot(i, step))), "end": iso_utc(min(end, _slot(i + 1, step))), "count": n}
        for i, n in sorted(buckets.items()) if n > FLOOD_THRESHOLD
    ]

    per_alarm: dict[tuple, list[datetime]] = defaultdict(list)
    for alarm_id, ts, key, tag, priority in rows:
        per_alarm[(alarm_id, key, tag, priority)].append(ts)
    total = len(rows)
    frequent = sorted(per_alarm.items(), key=lambda kv: (-len(kv[1]), kv[0][1], kv[0][2]))[:10]
    chattering = []
    for (alarm_id, key, tag, priority), stamps in per_alarm.items():
        # The most activations of this alarm inside any one-minute window (stamps are sorted).
        best, lo = 0, 0
        for hi in range(len(stamps)):
            while (stamps[hi] - stamps[lo]).total_seconds() >= CHATTER_SECONDS:
                lo += 1
            best = max(best, hi - lo + 1)
        if best >= CHATTER_COUNT:
            chattering.append({"alarm_id": alarm_id, "key": key, "tag": tag, "priority": priority,
                               "activations": len(stamps), "max_per_minute": best})
    chattering.sort(key=lambda c: (-c["max_per_minute"], -c["activations"], c["key"]))
    # People read names ("Reactor Temp High"), not keys: one query for the alarms these lists name.
    ids = {alarm_id for (alarm_id, *_), _ in frequent} | {c["alarm_id"] for c in chattering}
    names = dict(Alarm.objects.filter(pk__in=[i for i in ids if i is not None])
                 .values_list("pk", "definition__name"))
    for c in chattering:
        c["name"] = names.get(c["alarm_id"]) or c["key"]

    base = Alarm.objects.select_related("definition", "tag")
    stale = [
        {"alarm_id": a.pk, "key": a.definition.key, "name": a.definition.name, "tag": a.tag.name,
         "priority": a.definition.priority, "state": a.state, "activated_at": iso_utc(a.activated_at),
         "active_for_seconds": int((now - a.activated_at).total_seconds())}
        for a in base.filter(active=True, activated_at__lt=now - STALE_AFTER).order_by("activated_at")[:1000]
    ]
    shelved = [
        {"alarm_id": a.pk, "key": a.definition.key, "name": a.definition.name, "tag": a.tag.name,
         "priority": a.definition.priority, "shelved_by": a.shelved_by, "reason": a.shelve_reason,
         "shelved_at": iso_utc(a.shelved_at), "shelved_until": iso_utc(a.shelved_until),
         "shelved_for_seconds": int((now - a.shelved_at).total_seconds()) if a.shelved_at else None,
         "remaining_seconds": max(0, int((a.shelved_until - now).total_seconds()))}
        for a in base.filter(shelved_until__isnull=False).order_by("shelved_at")[:1000]
    ]
    return {
        "start": iso_utc(start),
        "end": iso_utc(end),
        "annunciated": total,
        "alarms_per_10min": {
            "average": round(total / periods, 2),
            "peak": max(buckets.values(), default=0),
            "periods": periods,
        },
        "floods": {
            "threshold": FLOOD_THRESHOLD,
            "count": len(floods),
            "percent_of_time": round(100.0 * len(floods) / periods, 2),
            "periods": floods,
        },
        "by_priority": dict(Counter(p for *_, p in rows)),
        "most_frequent": [
            {"alarm_id": alarm_id, "key": key, "name": names.get(alarm_id) or key, "tag": tag, "priority": priority,
             "count": len(stamps),
             "percent": round(100.0 * len(stamps) / total, 1)}
            for (alarm_id, key, tag, priority), stamps in frequent
        ],
        "chattering": chattering,
        "stale": {"threshold_hours": int(STALE_AFTER.total_seconds() // 3600), "count": len(stale), "alarms": stale},
        "shelved": {"count": len(shelved), "alarms": shelved},
    }


# The timer task runs every second (beat); this much silence means beat or every default worker is gone.
TIMERS_STALE_SECONDS = 15.0


def alarms_health():
    """`manage.py health alarms`: the alarm timer task (delays, shelve expiry, deferred journal rows) runs."""
    import time

    from alarms.runtime import timers_last_run
    from scada.health import Health

    last = timers_last_run()
    age = None if last is None else round(time.time() - last, 1)
    facts = {"timers_last_run_age_seconds": age}
    if age is None:
        return Health("alarms", False, "the alarm timer task has never run (is beat running, and a default worker?)",
                      facts)
    if age > TIMERS_STALE_SECONDS:
        return Health("alarms", False, f"the alarm timer task last ran {age:g} s ago (every 1 s expected): "
                                       "beat or the default worker is down or stuck", facts)
    return Health("alarms", True, f"timer task ran {age:g} s ago", facts)


alarms_health.health_name = "alarms"
