"""Aggregates computed in Python from raw samples, for databases other than PostgreSQL (the SQLite demo): the same
semantics as the SQL path, bucket by bucket.
"""

from __future__ import annotations

import math
from datetime import datetime

from historian.constants import BAD_CODE
from historian.selectors.buckets import _empty_value, _IsoCache


def aggregate_python(samples, carry, start: float, end: float, w: int, mode: str) -> dict[int, tuple]:
    """Bucketed aggregate of one tag from its samples [(t, value, usable)] in [start, end), sorted by t.

    `carry` is the last sample before `start` as (t, value, usable) or None. Returns {k: (v, fill)} for the
    buckets that have samples, plus k0 - 1 for the carried value, in the same shape as the SQL path.
    """
    k0 = math.floor(start / w)
    out: dict[int, tuple] = {}
    held_v, held_good = (carry[1], carry[2]) if carry else (None, False)
    if carry:
        out[k0 - 1] = (None, held_v if held_good else None)
    i, n = 0, len(samples)
    while i < n:
        k = math.floor(samples[i][0] / w)
        bs, be = max(k * w, start), min((k + 1) * w, end)
        j = i
        while j < n and math.floor(samples[j][0] / w) == k:
            j += 1
        bucket = samples[i:j]
        carry_v = held_v if held_good and bucket[0][0] > bs else None
        integ = cov = 0.0
        if carry_v is not None:
            integ += carry_v * (bucket[0][0] - bs)
            cov += bucket[0][0] - bs
        good = [v for _, v, g in bucket if g]
        for idx, (t, v, g) in enumerate(bucket):
            nxt = bucket[idx + 1][0] if idx + 1 < len(bucket) else be
            if g:
                dur = max(min(nxt, be) - t, 0.0)
                integ += v * dur
                cov += dur
        vals = good + ([carry_v] if carry_v is not None else [])
        if mode == "average":
            v = integ / cov if cov > 0 else None
        elif mode == "min":
            v = min(vals) if vals else None
        elif mode == "max":
            v = max(vals) if vals else None
        elif mode == "range":
            v = max(vals) - min(vals) if vals else None
        elif mode == "first":
            v = carry_v if carry_v is not None else (good[0] if good else None)
        elif mode == "last":
            v = good[-1] if good else carry_v
        elif mode == "count":
            v = len(good)
        else:
            v = sum(good) if good else None
        held_v, held_good = bucket[-1][1], bucket[-1][2]
        out[k] = (v, held_v if held_good else None)
        i = j
    return out


def _aggregate_other(tags, start: datetime, end_eff: datetime, w: int, mode: str):
    from historian.models import HistorianSample

    s_ep, e_ep = start.timestamp(), end_eff.timestamp()
    k0, kmax = math.floor(s_ep / w), math.ceil(e_ep / w) - 1
    rows_by_tag = {}
    for tag in tags:
        qs = HistorianSample.objects.filter(tag_id=tag.id)
        before = qs.filter(ts__lt=start).order_by("-ts").values_list("ts", "value", "quality").first()
        carry = (before[0].timestamp(), before[1], before[2] < BAD_CODE and before[1] is not None) if before else None
        samples = [(ts.timestamp(), v, q < BAD_CODE and v is not None)
                   for ts, v, q in qs.filter(ts__gte=start, ts__lt=end_eff).order_by("ts")
                   .values_list("ts", "value", "quality")]
        rows_by_tag[tag.id] = aggregate_python(samples, carry, s_ep, e_ep, w, mode)
    iso = _IsoCache()
    out = {}
    for tag in tags:
        rows = rows_by_tag[tag.id]
        held = rows.get(k0 - 1, (None, None))[1]
        data = []
        for k in range(k0, kmax + 1):
            if k in rows:
                v, held = rows[k]
            else:
                v = _empty_value(mode, held)
            data.append({"ts": iso[k * w], "v": v})
        out[tag.id] = data
    return out
