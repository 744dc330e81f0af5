"""URL converters: a child reference in a path matches only the shape references have.

Anything else (``%00``, 10 MB of text, another alphabet) is a 404 from the URL resolver, so
it never reaches a view, a query or the database (PostgreSQL refuses NUL with DataError).
"""

from children.models import REFERENCE_PATTERN


class ChildReferenceConverter:
    regex = REFERENCE_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
