"""The API's JSON parser: DRF's, with a nesting limit.

No request body of this API nests deeper than a few levels. A body of thousands of nested arrays
made the JSON decoder (or the code walking its result) hit Python's recursion limit, and the
RecursionError surfaced as a 500, also on the unauthenticated /auth/token. Here such a body is a
400 validation_error before any view sees it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """True when `value` nests containers deeper than `limit`; iterative, so it cannot recurse itself."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class DepthLimitedJSONParser(JSONParser):
    max_depth = MAX_JSON_DEPTH

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        # DRF reads a JSON body from the raw stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check.
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None and limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {self.max_depth} levels.") from None
        if json_depth_exceeds(data, self.max_depth):
            raise ParseError(f"JSON nested deeper than {self.max_depth} levels.")
        return data
