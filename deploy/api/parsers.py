"""The receive endpoint's parser: a gzip-compressed JSON bundle, inflated to at most INFLATE_FACTOR times the
request limit.

The compressed body is bounded like any request (KILN_MAX_REQUEST_BYTES, scada.middleware); the bound here stops
a small body that inflates to gigabytes, while leaving room for what real bundles compress to (JSON of a large
plant compresses 10-20 times). The inflated JSON then goes through Kiln's one JSON parser (depth,
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

__all__ = ["GzipBundleParser", "INFLATE_FACTOR"]

INFLATE_FACTOR = 100


class GzipBundleParser(BaseParser):
    media_type = BUNDLE_MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE * INFLATE_FACTOR
        try:
            raw = gzip.GzipFile(fileobj=stream).read(limit + 1) if stream is not None else b""
        except (OSError, EOFError, zlib.error) as exc:
            raise ParseError(f"Body is not gzip-compressed JSON: {exc}")
        if len(raw) > limit:
            raise ParseError(f"Bundle too large: more than {limit} bytes once inflated ({INFLATE_FACTOR} × "
                             f"KILN_MAX_REQUEST_BYTES)")
        return KilnJSONParser().parse(io.BytesIO(raw), "application/json", parser_context)
