"""Change history for writes that bypass model signals.

django-auditlog records field changes from ``post_save``; ``bulk_create``,
``QuerySet.update`` and ``feeds.bulk`` send no signals (SPEC 4), so those paths
write the same LogEntry rows themselves, one insert per batch. The diff follows
auditlog's own rules (values as strings, datetimes in naive UTC, foreign keys by
id, and, once the model is registered, its included / excluded / masked fields)
but is computed from a per-model field plan: auditlog's ``model_instance_diff``
costs ~100 µs a row, too much for a 1,000-row feed batch.
"""

import json
from datetime import UTC
from functools import cache

from auditlog.diff import get_mask_function
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.db.models import DateTimeField, JSONField
from django.utils import timezone
from django.utils.encoding import smart_str

from audit.context import RequestContext
from feeds import bulk


@cache
def _plan(model) -> tuple[list[tuple[str, str, str]], set, object]:
    """[(field name, attname, kind)] of the fields history records, the masked ones, the mask function."""
    fields = list(model._meta.concrete_fields)
    masked, mask = set(), None
    if auditlog.contains(model):
        rules = auditlog.get_model_fields(model)
        if rules["include_fields"]:
            fields = [f for f in fields if f.name in rules["include_fields"]]
        fields = [f for f in fields if f.name not in rules["exclude_fields"]]
        masked = set(rules["mask_fields"])
        if masked:
            mask = get_mask_function(rules.get("mask_callable"))
    kinds = [(f.name, f.attname, "datetime" if isinstance(f, DateTimeField) else "json" if isinstance(f, JSONField)
              else "plain") for f in fields]
    return kinds, masked, mask


def _value(obj, attname: str, kind: str, naive: dict) -> str:
    if obj is None:
        return "None"
    value = getattr(obj, attname)
    if value is None:
        return "None"
    if kind == "datetime":
        if value not in naive:  # a batch stamps many rows with the same moment: convert it once
            naive[value] = str(value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value)
        return naive[value]
    if kind == "json":
        return json.dumps(value, sort_keys=True)
    return value if type(value) is str else smart_str(value)


def diff(old, new, *, _naive=None) -> dict:
    """{field: [before, after]} as auditlog would record it; ``old`` None for a created object."""
    fields, masked, mask = _plan(type(new))
    naive = {} if _naive is None else _naive
    changes = {}
    for name, attname, kind in fields:
        before = "None" if old is None else _value(old, attname, kind, naive)
        after = _value(new, attname, kind, naive)
        if old is None or before != after:  # auditlog lists every field of a created object, None ones too
            changes[name] = [mask(before), mask(after)] if name in masked else [before, after]
    return changes


_NAIVE: dict = {}


def entry(*, old, new, context: RequestContext, additional_data: dict | None = None, now=None) -> LogEntry | None:
    """The LogEntry for ``old`` -> ``new`` (``old`` None: created); None when nothing changed."""
    if len(_NAIVE) > 1000:
        _NAIVE.clear()
    changes = diff(old, new, _naive=_NAIVE)
    if old is not None and not changes:
        return None
    user = context.user if getattr(context.user, "is_authenticated", False) else None
    return bulk.build(LogEntry, {
        "content_type_id": _content_type_id(type(new)),
        "object_pk": str(new.pk),
        "object_id": new.pk,
        "object_repr": str(new),
        "action": LogEntry.Action.CREATE if old is None else LogEntry.Action.UPDATE,
        "changes": changes,
        "actor_id": user.pk if user is not None else None,
        "remote_addr": context.ip_address,
        "cid": context.request_id,
        "timestamp": now or timezone.now(),
        "additional_data": additional_data,
    })


def _content_type_id(model) -> int:
    return ContentType.objects.get_for_model(model).pk


def write(entries) -> int:
    entries = [e for e in entries if e is not None]
    bulk.insert(entries)
    return len(entries)
