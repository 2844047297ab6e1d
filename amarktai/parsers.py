"""The API's JSON parser: DRF's, with limits.

DRF's own JSONParser reads the whole stream (whatever its size: DRF bypasses DATA_UPLOAD_MAX_MEMORY_SIZE) and lets the
decoder recurse as deep as the body nests, so a 300 MB body grew the process by 300 MB and ``[[[[...`` 100 000 deep
ended in a RecursionError and a 500. This one reads at most settings.API_MAX_BODY_BYTES (+1 to notice more: 413
PAYLOAD_TOO_LARGE), refuses bodies nested deeper than settings.API_MAX_JSON_DEPTH, and turns every decoding failure
(bad JSON, bad UTF-8, NaN/Infinity, an integer of more than 4300 digits, too deep for the decoder) into a 400
VALIDATION_ERROR.
"""

import json

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

from amarktai.errors import PayloadTooLarge


def nesting_depth_exceeds(value, limit):
    """True if ``value`` nests objects/arrays more than ``limit`` levels deep (a bare container is depth 1)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body too large (at most {limit} bytes)")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding), parse_constant=strict_constant)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {settings.API_MAX_JSON_DEPTH} levels") from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity, huge integers
            raise ParseError(f"JSON parse error - {exc}") from None
        if isinstance(data, (dict, list)) and nesting_depth_exceeds(data, settings.API_MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {settings.API_MAX_JSON_DEPTH} levels")
        return data
