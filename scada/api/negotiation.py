"""Content negotiation where an explicit `?format=` wins over the Accept header.

DRF's default refuses `?format=csv` with 406 when the Accept header names only JSON: the HMI's REST client
sends `Accept: application/json` on every call, so its journal "CSV" button met a 406 while curl (`*/*`)
worked. A client that names a format in the URL has said what it wants; the Accept header is then advice.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

__all__ = ["FormatParamWinsNegotiation"]


class FormatParamWinsNegotiation(DefaultContentNegotiation):
    """As DRF's, except that a `?format=` naming one of the view's renderers selects it whatever Accept says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        fmt = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if fmt:
            chosen = [r for r in renderers if r.format == fmt]
            if chosen:
                return chosen[0], chosen[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
