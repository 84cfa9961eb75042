"""The receive endpoint's parser: a gzip-compressed JSON bundle, inflated to at most KILN_DEPLOY_MAX_BUNDLE_BYTES.

The compressed body is bounded like any request (KILN_MAX_REQUEST_BYTES, scada.middleware); the bound here stops
a small body that inflates to gigabytes. The inflated JSON then goes through Kiln's one JSON parser (depth,
number bounds).
"""

import gzip
import io
import zlib

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from deploy.transport import BUNDLE_MEDIA_TYPE
from scada.api.parsers import KilnJSONParser

__all__ = ["GzipBundleParser"]


class GzipBundleParser(BaseParser):
    media_type = BUNDLE_MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.KILN_DEPLOY_MAX_BUNDLE_BYTES
        try:
            raw = gzip.GzipFile(fileobj=stream).read(limit + 1) if stream is not None else b""
        except (OSError, EOFError, zlib.error) as exc:
            raise ParseError(f"Body is not gzip-compressed JSON: {exc}")
        if len(raw) > limit:
            raise ParseError(f"Bundle too large: more than {limit} bytes once inflated (KILN_DEPLOY_MAX_BUNDLE_BYTES)")
        return KilnJSONParser().parse(io.BytesIO(raw), "application/json", parser_context)
