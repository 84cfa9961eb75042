"""Tag selectors: reads of tag configuration joined with live values.

The list path is the hottest read of the API: it fetches plain tuples (no model instances) and builds the
response dicts itself, so its cost stays flat and low whatever the page size. Its configuration rows are
also kept per process, keyed by the tag configuration version in Redis (`_ListPages`), so a repeated page
costs one Redis round trip (version + live values together) and no SQL at all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import orjson
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from scada.api.renderers import iso_utc
from scada.errors import NotFound
from scada.redis import get_redis
from tags.choices import DataType, Quality
from tags.display import value_shown
from tags.live import LIVE_KEY, LiveValue, live_get_many
from tags.models import Tag
from tags.values import CONFIG_VERSION_KEY, tag_config_version

__all__ = [
    "LIST_FIELDS",
    "tag_get",
    "tag_get_on_machine",
    "tag_find_many",
    "tag_list",
    "tag_list_formatted",
    "tag_stats",
    "live_value_dict",
    "tags_refused",
    "tag_config_version",
    "tag_config_version_pipelined",
    "tag_usage",
]

def tag_config_version_pipelined(pipe) -> None:
    """Queue a read of the tag configuration version on `pipe` (a Redis pipeline).

    For a caller that batches it with its own reads in one round trip (alarm evaluation, per batch). Its reply
    is the version token, or None if Redis lost it (a restart): then call tag_config_version, which sets one.
    Callers cache against the token and reload when it moves; they never name the key.
    """
    pipe.get(CONFIG_VERSION_KEY)


def tag_datatypes(tag_ids) -> dict[int, str]:
    """The datatype of each tag among `tag_ids` that exists (a missing id: no such tag). One indexed query.

    The historian writer asks this once per flush for up to a few thousand ids. On PostgreSQL the ids go as one
    array parameter: `id__in` would build, and psycopg parse, a statement with one placeholder per id on every
    call (about 30 ms for 1,000 ids, most of a small flush's cost).
    """
    ids = list(tag_ids)
    if not ids:
        return {}
    if connection.vendor != "postgresql":
        return dict(Tag.objects.filter(pk__in=ids).values_list("id", "datatype"))
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, datatype FROM {Tag._meta.db_table} WHERE id = ANY(%s)", [ids])  # noqa: S608
        return dict(cur.fetchall())


# Column order of the list query; tag_list turns each tuple into the seed's list item.
LIST_FIELDS = ("id", "machine__machine_id", "name", "datatype", "description", "unit", "is_writable", "is_active")


def live_value_dict(live: LiveValue | None) -> dict:
    """value / timestamp / quality / substatus of a live entry (all None when the tag never had a value)."""
    if live is None:
        return {"value": None, "timestamp": None, "quality": None, "substatus": None}
    return {"value": live.value, "timestamp": iso_utc(live.timestamp), "quality": live.quality,
            "substatus": live.substatus}


def tag_get(*, name: str) -> Tag:
    """The tag with this plant-unique name; 404 `Tag 'X' not found`."""
    tag = Tag.objects.select_related("machine").filter(name=name).first()
    if tag is None:
        raise NotFound(f"Tag '{name}' not found")
    return tag


def tag_get_on_machine(*, machine_id: str, name: str) -> Tag:
    """A tag of a machine by its full name (`pump-01.Speed`) or its member name (`Speed`); 404 with seed 003's text."""
    candidates = list(Tag.objects.select_related("machine")
                      .filter(Q(name=name) | Q(member=name), machine__machine_id=machine_id)[:2])
    # At most two rows: the full-name match (names are unique) and the member match (unique per machine).
    if candidates:
        return min(candidates, key=lambda t: t.name != name)
    raise NotFound(f"Tag '{name}' not found on machine '{machine_id}'")


def tag_find_many(*, keys: list[tuple[str | None, str | None]]) -> dict[tuple, Tag]:
    """Resolve many (machine_id or None, name) pairs in one query; missing pairs are absent from the result."""
    names = {n for _, n in keys if isinstance(n, str) and n}
    machines = {m for m, _ in keys if isinstance(m, str) and m}
    if not names:
        return {}
    cond = Q(name__in=names)
    if machines:
        cond |= Q(machine__machine_id__in=machines, member__in=names)
    tags = list(Tag.objects.select_related("machine").filter(cond))
    by_name = {t.name: t for t in tags}
    by_member = {(t.machine.machine_id, t.member): t for t in tags if t.member}
    found = {}
    for machine_id, name in keys:
        if not isinstance(name, str) or (machine_id is not None and not isinstance(machine_id, str)):
            continue
        tag = by_name.get(name)
        if tag is not None and machine_id and tag.machine.machine_id != machine_id:
            tag = None
        if tag is None and machine_id:
            tag = by_member.get((machine_id, name))
        if tag is not None:
            found[(machine_id, name)] = tag
    return found


class _ListPages:
    """Configuration rows of recently served tag list pages, valid for one tag configuration version.

    Only configuration is kept (ids, names, units...); values always come live from Redis. Every change of a
    Tag or Machine moves the version (tags.values.tag_config_changed, also wired to their save/delete signals),
    and the first request to see a new version drops every page. The version is read before the SQL query, so
    rows read during a change are filed under the old version and never outlive it.
    """

    # Bounded by rows, not pages: a thousand-row page weighs as much as a hundred ten-row ones.
    max_rows = 20_000

    def __init__(self):
        self.version: bytes | None = None
        self.pages: OrderedDict[tuple, list[tuple]] = OrderedDict()
        self.rows = 0
        self.lock = threading.Lock()

    def get(self, key: tuple) -> tuple[bytes | None, list[tuple] | None]:
        with self.lock:
            rows = self.pages.get(key)
            if rows is not None:
                self.pages.move_to_end(key)
            return self.version, rows

    def put(self, version: bytes, key: tuple, rows: list[tuple]) -> None:
        with self.lock:
            if version != self.version:
                self.pages.clear()
                self.rows = 0
                self.version = version
            old = self.pages.pop(key, None)
            self.rows += len(rows) - (len(old) if old is not None else 0)
            self.pages[key] = rows
            while self.rows > self.max_rows and len(self.pages) > 1:
                self.rows -= len(self.pages.popitem(last=False)[1])


_pages = _ListPages()


def _page_rows(queryset, cache_key: tuple | None, limit: int, offset: int, include_values: bool
               ) -> tuple[list[tuple], list | None]:
    """The page's configuration rows, and their raw live entries when include_values (else None).

    Warm: one Redis round trip (version + HMGET) and no SQL. Cold or after a change: version, SQL, HMGET.
    """
    r = get_redis()
    if cache_key is not None:
        seen, rows = _pages.get(cache_key)
        if rows is not None:
            pipe = r.pipeline(transaction=False)
            pipe.get(CONFIG_VERSION_KEY)
            if include_values and rows:
                pipe.hmget(LIVE_KEY, [row[0] for row in rows])
            found = pipe.execute()
            if found[0] == seen:
                return rows, (found[1] if include_values and rows else [])
    version = tag_config_version(r) if cache_key is not None else None
    rows = list(queryset.values_list(*LIST_FIELDS)[offset:offset + limit])
    if cache_key is not None:
        _pages.put(version, cache_key, rows)
    raw = r.hmget(LIVE_KEY, [row[0] for row in rows]) if include_values and rows else []
    return rows, raw


def tag_list(*, queryset, limit: int, offset: int, include_values: bool = True, quality: str | None = None,
             cache_key: tuple | None = None) -> list[dict]:
    """One page of the tag list as seed 003 list items, in name order.

    Without a quality filter: one SQL query for the page and one HMGET for its values; with a `cache_key`
    (the parsed filters; equal keys must select equal tags) a repeated page skips the SQL (see _ListPages).
    With a quality filter, quality lives in Redis, so all matching ids are read (one query + one HMGET),
    filtered, and then one page fetched.
    """
    queryset = queryset.order_by("name")
    if quality is not None:
        ids = list(queryset.values_list("id", flat=True))
        raw_all = get_redis().hmget(LIVE_KEY, ids) if ids else []
        wanted = None if quality == "NULL" else quality
        raw_by_id = {}
        for tid, raw in zip(ids, raw_all, strict=True):
            entry = orjson.loads(raw) if raw is not None else None
            if (entry[1] if entry is not None else None) == wanted:
                raw_by_id[tid] = entry
        page_ids = list(raw_by_id)[offset:offset + limit]
        rows = sorted(Tag.objects.filter(pk__in=page_ids).values_list(*LIST_FIELDS), key=lambda r: r[2]) \
            if page_ids else []
        entries = [raw_by_id[r[0]] for r in rows]
    else:
        key = None if cache_key is None else (cache_key, limit, offset)
        rows, raw = _page_rows(queryset, key, limit, offset, include_values)
        # Decoded inline (not via LiveValue) on purpose: this loop runs for every tag of every list request.
        entries = [orjson.loads(x) if x is not None else None for x in raw] if include_values else []
    if not include_values:
        return [{"machine_id": machine_id, "name": name, "datatype": datatype, "description": description,
                 "unit": unit, "is_writable": is_writable, "is_active": is_active}
                for _tid, machine_id, name, datatype, description, unit, is_writable, is_active in rows]
    out = []
    stamps: dict[float, str | None] = {}  # a poll cycle stamps many tags alike: format each instant once
    for (_tid, machine_id, name, datatype, description, unit, is_writable, is_active), entry in zip(
            rows, entries, strict=True):
        if entry is None:
            value = ts = q = sub = None
        else:
            value, q, sub, epoch = entry
            ts = stamps.get(epoch)
            if ts is None:
                ts = stamps[epoch] = iso_utc(datetime.fromtimestamp(epoch, tz=UTC))
        out.append({"machine_id": machine_id, "name": name, "datatype": datatype, "value": value,
                    "timestamp": ts, "description": description, "unit": unit, "quality": q,
                    "substatus": sub, "is_writable": is_writable, "is_active": is_active})
    return out


def tag_list_formatted(rows: list[dict]) -> list[dict]:
    """tag_list items with each tag's display decimals and, when they carry a value, its `value_text` (one query).

    Asked for (?formatted=true), not always: the list is the API's hot path and most clients format themselves.
    """
    decimals = dict(Tag.objects.filter(name__in=[r["name"] for r in rows]).values_list("name", "decimals"))
    for r in rows:
        r["decimals"] = d = decimals.get(r["name"])
        if "value" in r:
            r["value_text"] = value_shown(r["value"], d)
    return rows


def tag_stats() -> dict:
    """Seed 003 stats: counts by state, datatype and live quality; `recent_writes` = writes in the last 24 h."""
    from accounts.models import AuditRecord

    agg = Tag.objects.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(is_active=True)),
        writable=Count("id", filter=Q(is_writable=True)),
        **{f"dt_{dt}": Count("id", filter=Q(datatype=dt)) for dt in DataType.values},
    )
    ids = list(Tag.objects.values_list("id", flat=True))
    by_quality = {q: 0 for q in Quality.values}
    by_quality["NULL"] = 0
    for lv in live_get_many(ids).values():
        key = lv.quality if lv is not None and lv.quality in by_quality else "NULL"
        by_quality[key] += 1
    since = timezone.now() - timedelta(hours=24)
    recent = AuditRecord.objects.filter(action="tag.write", object_type="tag", ts__gte=since).count()
    return {
        "total_tags": agg["total"],
        "active_tags": agg["active"],
        "inactive_tags": agg["total"] - agg["active"],
        "by_datatype": {dt: agg[f"dt_{dt}"] for dt in DataType.values},
        "by_quality": by_quality,
        "writable_tags": agg["writable"],
        "recent_writes": recent,
    }


def tags_refused(principal, tags: list[tuple[int, str]]) -> list[str]:
    """Names of the tags among (id, name) pairs this caller may not read. Every role may read every tag today;
    this is the hook where per-site or per-area read rights will go (the WebSocket refuses any subscription it
    names). A tags rule, not a transport one: REST reads will ask the same question."""
    return []


def tag_usage(name: str) -> list[dict]:
    """Where other apps use a tag by name ("where used"), from KILN_TAG_USAGE_PROVIDERS in order.

    Each provider returns dicts with at least `kind`, `name` and `url` (the HMI: the screens that bind it).
    Shown on the tag's admin page and when it is renamed or deleted, so nothing silently loses its value.
    """
    from scada.extensions import extension_list

    out: list[dict] = []
    for _path, provider in extension_list("KILN_TAG_USAGE_PROVIDERS"):
        out.extend(provider(name))
    return out
