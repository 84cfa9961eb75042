"""CSV export of a history query (`Accept: text/csv` or `?format=csv`)."""

from __future__ import annotations

import csv
import io

from rest_framework.renderers import BaseRenderer

from scada.csv_safe import csv_safe_cell

__all__ = ["HistoryCSVRenderer"]


class HistoryCSVRenderer(BaseRenderer):
    """One row per point: tag, ts, v (+ quality, substatus in raw mode), for one series or many."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if not isinstance(data, dict) or not ("series" in data or "data" in data):
            # An error ({"detail"}) or OPTIONS metadata asked for as CSV: one cell, never a 500.
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(["detail"])
            writer.writerow([_cell(data.get("detail", data.get("name", "")) if isinstance(data, dict) else data)])
            return buf.getvalue().encode("utf-8")
        series = data.get("series", [data])
        raw = (renderer_context or {}).get("history_mode") == "raw"
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["tag", "ts", "v", "quality", "substatus"] if raw else ["tag", "ts", "v"])
        for s in series:
            name = s["tag"]
            if "decimals" in s:
                # ?formatted=true: numbers as the HMI shows them (the point's text); booleans 1/0, text as it is.
                values = [_shown_cell(p) for p in s["data"]]
            else:
                values = [_cell(p["v"]) for p in s["data"]]
            if raw:
                writer.writerows([name, p["ts"], v, p["quality"], p.get("substatus") or ""]
                                 for p, v in zip(s["data"], values, strict=True))
            else:
                writer.writerows([name, p["ts"], v] for p, v in zip(s["data"], values, strict=True))
        return buf.getvalue().encode("utf-8")


def _shown_cell(point: dict):
    v = point["v"]
    return point["text"] if isinstance(v, int | float) and not isinstance(v, bool) else _cell(v)


def _cell(value):
    # Empty for "no value" (null in JSON); booleans as 1/0 so spreadsheets can plot them; text through the one
    # CSV guard (a STRING tag's value must not run as a spreadsheet formula).
    if isinstance(value, bool):
        return int(value)
    return csv_safe_cell(value)
