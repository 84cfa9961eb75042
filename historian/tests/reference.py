"""A plain-Python reference for history aggregates, written from the definitions and nothing else.

Deliberately naive (for every bucket it walks every sample), so it shares no code and no shortcut with the
SQL path (historian.selectors) or the SQLite path (historian.selectors.aggregate_python).
"""

import math


def reference(samples, start, end, now, interval, mode):
    """samples: [(t, value, usable)] of one tag at any time; returns [(bucket start, value)] like the API."""
    samples = sorted(samples)
    end_eff = min(end, now)
    out = []
    if end_eff <= start:
        return out
    k = math.floor(start / interval)
    while k * interval < end_eff:
        bs = max(k * interval, start)
        be = min((k + 1) * interval, end_eff)
        inside = [s for s in samples if bs <= s[0] < be]
        before = [s for s in samples if s[0] < bs]
        held = before[-1] if before else None
        carried = None
        if held is not None and held[2] and (not inside or inside[0][0] > bs):
            carried = held[1]
        # Time integral of the step function over [bs, be), skipping the stretches a BAD sample holds.
        points = [bs] + [s[0] for s in inside if s[0] > bs] + [be]
        integral = covered = 0.0
        for a, b in zip(points, points[1:]):
            holder = [s for s in samples if s[0] <= a]
            if holder and holder[-1][2] and b > a:
                integral += holder[-1][1] * (b - a)
                covered += b - a
        usable = [s[1] for s in inside if s[2]]
        values = usable + ([carried] if carried is not None else [])
        if mode == "average":
            v = integral / covered if covered > 0 else None
        elif mode == "min":
            v = min(values) if values else None
        elif mode == "max":
            v = max(values) if values else None
        elif mode == "range":
            v = max(values) - min(values) if values else None
        elif mode == "first":
            v = carried if carried is not None else (usable[0] if usable else None)
        elif mode == "last":
            v = usable[-1] if usable else carried
        elif mode == "count":
            v = len(usable)
        elif mode == "sum":
            v = sum(usable) if usable else None
        else:
            raise ValueError(mode)
        out.append((k * interval, v))
        k += 1
    return out
