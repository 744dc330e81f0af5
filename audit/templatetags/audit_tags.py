import json

from auditlog.registry import auditlog
from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def anomaly_key(event) -> str:
    return f"event:{event.pk}"


@register.simple_tag
def event_details(event):
    """An event's details as short "key: value" lines; a search's results as a count of children."""
    details = dict(event.details or {})
    disclosed = details.pop("disclosed", None)
    lines = [(key, value if isinstance(value, str) else json.dumps(value, sort_keys=True))
             for key, value in sorted(details.items())]
    if disclosed:
        lines.append(("children in results", str(len(disclosed))))
    if not lines:
        return ""
    items = format_html_join("", "<li>{}: {}</li>", ((k, v[:120]) for k, v in lines))
    return format_html('<ul class="govuk-list govuk-body-s signpost-audit-details">{}</ul>', items)


@register.inclusion_tag("audit/partials/change_history.html")
def change_history(obj, limit=25):
    """django-auditlog's field-level history of ``obj``, newest first (for its admin page)."""
    if obj is None or not auditlog.contains(type(obj)):
        return {"tracked": False}
    from auditlog.models import LogEntry

    entries = LogEntry.objects.get_for_object(obj).select_related("actor").order_by("-timestamp")[:limit]
    return {"tracked": True, "entries": entries}


@register.filter
def govuk_widget(field):
    """Render a field's widget with GOV.UK error styling and aria-describedby for its hint and errors."""
    described = []
    if field.help_text:
        described.append(f"{field.id_for_label}-hint")
    if field.errors:
        described.append(f"{field.id_for_label}-error")
    attrs = {"aria-describedby": " ".join(described)} if described else {}
    if field.errors:
        base = field.field.widget.attrs.get("class", "")
        error_class = {"govuk-select": "govuk-select--error", "govuk-textarea": "govuk-textarea--error"}.get(
            base.split(" ")[0], "govuk-input--error")
        attrs["class"] = f"{base} {error_class}".strip()
    return field.as_widget(attrs=attrs)
