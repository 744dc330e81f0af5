"""Change history for writes that bypass model signals.

django-auditlog records field changes from ``post_save``; ``bulk_create`` and
``bulk_update`` send no signals (SPEC 4), so the feed writes the same LogEntry
rows itself, in one insert per batch, with auditlog's own diff function (which
honours whatever fields the registration includes or masks).
"""

from auditlog.diff import get_field_value, model_instance_diff
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.utils.encoding import smart_str
from django.utils import timezone

from audit.context import RequestContext


def diff(old, new) -> dict:
    """auditlog's own diff when the model is registered (its field rules apply), else every concrete field."""
    if auditlog.contains(type(new)):
        return model_instance_diff(old, new) or {}
    changes = {}
    for field in new._meta.concrete_fields:
        before, after = get_field_value(old, field), get_field_value(new, field)
        if before != after:
            changes[field.name] = (smart_str(before), smart_str(after))
    return changes


def entry(*, old, new, context: RequestContext, additional_data: dict | None = None, now=None) -> LogEntry | None:
    """The LogEntry for ``old`` -> ``new`` (``old`` None: created); None when nothing changed."""
    changes = diff(old, new)
    if old is not None and not changes:
        return None
    user = context.user if getattr(context.user, "is_authenticated", False) else None
    return LogEntry(
        content_type=ContentType.objects.get_for_model(new),
        object_pk=str(new.pk),
        object_id=new.pk,
        object_repr=str(new),
        action=LogEntry.Action.CREATE if old is None else LogEntry.Action.UPDATE,
        changes={name: list(pair) for name, pair in (changes or {}).items()},
        actor=user,
        remote_addr=context.ip_address,
        cid=context.request_id,
        timestamp=now or timezone.now(),
        additional_data=additional_data,
    )


def write(entries) -> int:
    entries = [e for e in entries if e is not None]
    LogEntry.objects.bulk_create(entries, batch_size=1000)
    return len(entries)
