"""The text of the one PostgreSQL statement that answers an aggregate query: pieces from raw samples and from
each rollup tier (per plan_segments), the value carried in at the start, and bucket partials (see buckets).
"""

from __future__ import annotations

from historian.chunks import samples_sql
from historian.constants import BAD_CODE

# Each source yields "pieces" in one shape; which value columns a piece carries depends on the mode.
_MODE_COLUMNS = {
    "average": ("integ", "cov"), "min": ("mn",), "max": ("mx",), "range": ("mn", "mx"), "first": ("fv",),
    "last": ("lv",), "count": ("cnt",), "sum": ("sm",),
}
_RAW_EXPR = {"integ": "0::float8", "cov": "0::float8", "mn": "gv", "mx": "gv", "fv": "gv", "lv": "gv",
             "cnt": "g::int", "sm": "gv"}
_TIER_EXPR = {"integ": "integral", "cov": "covered", "mn": "value_min", "mx": "value_max", "fv": "value_first",
              "lv": "value_last", "cnt": "value_count", "sm": "value_sum"}

# Raw samples come from historian.chunks.samples_sql: hot rows and compacted chunks alike.
_RAW_PIECES = """
SELECT tag_id, ts, floor(pe / %(w)s), pe, pe, value, g{cols}
FROM (SELECT tag_id, ts, date_part('epoch', ts) AS pe, value, (quality < {bad} AND value IS NOT NULL) AS g{gv}
      FROM {src} s) r
"""

_TIER_PIECES = """
SELECT tag_id, bucket, floor(date_part('epoch', bucket) / %(w)s), head_ts, tail_ts, tail_value, tail_good{cols}
FROM {table}
WHERE tag_id = ANY(%(ids)s) AND bucket >= %({a})s AND bucket < %({b})s
"""

# The value held at `start` per tag: the last sample before it, read from raw samples back to `carry_minute`
# (a minute boundary the rollups are exact before), else from the last 1-minute rollup back to `carry_from` (an
# hour boundary), else from the last 1-hour rollup before that. A rollup's tail is its last sample of any
# quality, so each step finds the same sample the raw samples would. (Raw samples back to the minute only: on
# compacted history that reads part of one chunk per tag, not a whole hour of it.)
_CARRY_TEMPLATE = """
SELECT t.id AS tag_id,
       coalesce(r.t, m.tail_ts, h.tail_ts) AS tail,
       CASE WHEN r.t IS NOT NULL THEN r.v WHEN m.tail_ts IS NOT NULL THEN m.tail_value ELSE h.tail_value END
           AS tail_v,
       CASE WHEN r.t IS NOT NULL THEN r.good WHEN m.tail_ts IS NOT NULL THEN m.tail_good ELSE h.tail_good END
           AS tail_good
FROM unnest(%(ids)s::int[]) AS t(id)
LEFT JOIN LATERAL (
    SELECT date_part('epoch', s.ts) AS t, s.value AS v, (s.quality < {bad} AND s.value IS NOT NULL) AS good
    FROM {carry_src} s
    ORDER BY s.ts DESC LIMIT 1) r ON true
LEFT JOIN LATERAL (
    SELECT x.tail_ts, x.tail_value, x.tail_good
    FROM historian_rollup_1m x
    WHERE x.tag_id = t.id AND x.bucket >= %(carry_from)s AND x.bucket < %(carry_minute)s AND r.t IS NULL
    ORDER BY x.bucket DESC LIMIT 1) m ON true
LEFT JOIN LATERAL (
    SELECT x.tail_ts, x.tail_value, x.tail_good
    FROM historian_rollup_1h x
    WHERE x.tag_id = t.id AND x.bucket < %(carry_from)s AND r.t IS NULL AND m.tail_ts IS NULL
    ORDER BY x.bucket DESC LIMIT 1) h ON true
"""

_CARRY = _CARRY_TEMPLATE.replace(
    "{carry_src}", samples_sql("%(carry_minute)s", "%(start)s", ids="ARRAY[t.id]"))

# Per bucket, over its pieces (b.*), then with the value carried in from before its first piece (carry_v, over
# carry_s seconds): the value held at the end of the previous non-empty bucket, up to this bucket's first piece.
_TAIL_INT = "CASE WHEN tail_good THEN tail_v * tail_dur ELSE 0 END"
_BUCKET_AGG = {
    "average": [(f"sum(integ + {_TAIL_INT})", "integ"), ("sum(cov + tail_dur)", "cov")],
    "min": [("min(mn)", "mn")], "max": [("max(mx)", "mx")], "range": [("min(mn)", "mn"), ("max(mx)", "mx")],
    "first": [("(min(ARRAY[head, fv]) FILTER (WHERE fv IS NOT NULL))[2]", "fv")],
    "last": [("(max(ARRAY[head, lv]) FILTER (WHERE lv IS NOT NULL))[2]", "lv")],
    "count": [("sum(cnt)", "cnt")], "sum": [("sum(sm)", "sm")],
}
_DIRECT_TAIL = "greatest(least(date_part('epoch', bucket) + %(w)s, %(end_ep)s) - tail_ts, 0)"
_DIRECT_AGG = {
    "average": [f"integral + CASE WHEN tail_good THEN tail_value * {_DIRECT_TAIL} ELSE 0 END",
                f"covered + CASE WHEN tail_good THEN {_DIRECT_TAIL} ELSE 0 END"],
    "min": ["value_min"], "max": ["value_max"], "range": ["value_min", "value_max"], "first": ["value_first"],
    "last": ["value_last"], "count": ["value_count::bigint"], "sum": ["value_sum"],
}


def _aggregate_sql(segments, mode: str, interval: int) -> str:
    """One statement: the carried value, bucket partials from every segment, in whatever order (see _assemble).

    Rollup rows of the interval's own size (`direct`) are buckets already: they skip the window and the
    grouping. Everything else (raw samples, finer rollups) is ordered per tag, each piece's tail is held until
    the next piece's head or its bucket's end, and pieces are grouped into buckets.
    """
    cols = _MODE_COLUMNS[mode]
    aggs = [name for _, name in _BUCKET_AGG[mode]]
    parts, direct = [], []
    for i, (tier, _a, _b) in enumerate(segments):
        if tier == 0:
            gv = f", CASE WHEN quality < {BAD_CODE} THEN value END AS gv" if any(
                _RAW_EXPR[c] == "gv" for c in cols) else ""
            parts.append(_RAW_PIECES.format(bad=BAD_CODE, gv=gv, src=samples_sql(f"%(a{i})s", f"%(b{i})s"),
                                            cols="".join(f", {_RAW_EXPR[c]}" for c in cols)))
            continue
        table = "historian_rollup_1h" if tier == 3600 else "historian_rollup_1m"
        if tier == interval:
            direct.append(
                f"SELECT tag_id, floor(date_part('epoch', bucket) / %(w)s), head_ts, "  # noqa: S608
                f"CASE WHEN tail_good THEN tail_value END, {', '.join(_DIRECT_AGG[mode])} FROM {table} "
                f"WHERE tag_id = ANY(%(ids)s) AND bucket >= %(a{i})s AND bucket < %(b{i})s")
        else:
            parts.append(_TIER_PIECES.format(table=table, a=f"a{i}", b=f"b{i}",
                                             cols="".join(f", {_TIER_EXPR[c]}" for c in cols)))
    carry_aggs = "".join(f", NULL::{'bigint' if a == 'cnt' else 'float8'}" for a in aggs)
    buckets = [f"SELECT tag_id, %(k0)s - 1, tail, CASE WHEN tail_good THEN tail_v END{carry_aggs} "  # noqa: S608
               "FROM carry WHERE tail IS NOT NULL", *direct]
    ctes = [f"carry AS ({_CARRY.format(bad=BAD_CODE)})"]
    if parts:
        pieces = "\nUNION ALL\n".join(parts)
        agg_sql = ", ".join(f"{expr} AS {name}" for expr, name in _BUCKET_AGG[mode])
        # A piece's tail holds until the next piece's head or its bucket's end (tail_dur); a bucket's `fill` is
        # the value held at its end (its last piece's tail, if usable), which _assemble carries forward.
        ctes.append(f"""pieces (tag_id, p, k, head, tail, tail_v, tail_good, {", ".join(cols)}) AS ({pieces}),
w1 AS (
    SELECT p.*, lead(head) OVER (PARTITION BY tag_id ORDER BY p) AS nh,
           least((k + 1) * %(w)s, %(end_ep)s) AS be
    FROM pieces p
),
w2 AS (
    SELECT *, CASE WHEN tail_good THEN greatest(least(coalesce(nh, be), be) - tail, 0) ELSE 0 END AS tail_dur
    FROM w1
)""")  # noqa: S608
        buckets.append(f"""SELECT tag_id, k, min(head),
       max(CASE WHEN tail_good AND (nh IS NULL OR nh >= (k + 1) * %(w)s) THEN tail_v END), {agg_sql}
FROM w2 GROUP BY tag_id, k""")  # noqa: S608
    union = "\nUNION ALL\n".join(buckets)
    return f"""
WITH {", ".join(ctes)},
b (tag_id, k, head, fill, {", ".join(aggs)}) AS ({union})
SELECT tag_id, k::bigint, head, {", ".join(aggs)}, fill FROM b
"""  # noqa: S608 - only constants and parameter names are formatted in
