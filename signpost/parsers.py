"""The one JSON parser of both APIs: refuses what would break a request later, before any view runs.

DRF's JSONParser hands over whatever ``json.loads`` returns. Three things in it break a
request long after parsing, once something may already have been written:

- nesting thousands deep: ``RecursionError`` in the parser, the serializers or the renderer;
- lone surrogates (``"\\ud800"`` is valid JSON, not valid Unicode): ``UnicodeEncodeError``
  when a message echoes the value back (a ChoiceField's "not a valid choice", a feed row's
  result) or the database stores it;
- a body larger than the web accepts.

So the body is refused here, as a 400 with a JSON error, naming no value it carries. NUL is
valid Unicode and renders: the fields refuse it one by one (DRF's CharField, FeedCharField),
with a message at the field.
"""

import codecs
import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.utils import json as drf_json

# Our bodies are at most {"rows": [{...}]}: three levels. Allow room, far below Python's recursion limit.
MAX_JSON_DEPTH = 16


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        # The web's limit on a request body (Django's setting, 2.5 MB by default) holds for the API too:
        # DRF reads the stream itself, so Django's own check never sees an API body.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = _content_length(request)
        if declared is not None and declared > limit:
            raise ParseError(f"The request body is larger than {limit:,} bytes.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ParseError(f"The request body is larger than {limit:,} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(f"The request body is not valid {encoding} text.") from None
        try:
            # DRF's strict mode refuses NaN and Infinity, which are not JSON.
            data = drf_json.loads(text) if api_settings.STRICT_JSON else json.loads(text)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted.") from None
        except ValueError as error:
            raise ParseError(f"JSON parse error at line {getattr(error, 'lineno', '?')}, "
                             f"column {getattr(error, 'colno', '?')}.") from None
        check_json_value(data)
        return data


def check_json_value(data) -> None:
    """Raise ParseError if ``data`` nests deeper than MAX_JSON_DEPTH or holds a string with a
    lone surrogate, in a key or a value. Iterative, so depth cannot exhaust the stack."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted.")
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key)
                    pending.append((item, depth + 1))
            else:
                pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError("The request contains an unpaired surrogate (\\ud800 to \\udfff): "
                         "send valid Unicode.") from None


def _content_length(request) -> int | None:
    if request is None:
        return None
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) or None
    except (TypeError, ValueError):
        return None
