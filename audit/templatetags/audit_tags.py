from auditlog.registry import auditlog
from django import template
from django.apps import apps
from django.utils.html import format_html, format_html_join

from audit import actions

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def anomaly_key(event) -> str:
    return f"event:{event.pk}"


@register.simple_tag(takes_context=True)
def event_details(context, event):
    """An event's details as short "Label: value" lines in plain words (audit.actions.describe); a search's
    results as a count of children. Ids of practitioners and organisations are shown by name."""
    details = dict(event.details or {})
    disclosed = details.pop("disclosed", None)
    memo = context.render_context.setdefault("audit_detail_names", {})  # one lookup per id per page
    lines = [(label, value[:120]) for label, value in actions.describe(details, names=lambda k, pk: _name(memo, k, pk))]
    if disclosed:
        lines.append(("Children in results", str(len(disclosed))))
    if not lines:
        return ""
    items = format_html_join("", "<li>{}: {}</li>", lines)
    return format_html('<ul class="govuk-list govuk-body-s signpost-audit-details">{}</ul>', items)


# The audit app sits below practitioners: it reads their names through the app registry, never an import.
NAMED = {"practitioner_id": ("practitioners", "Practitioner"), "organisation_id": ("practitioners", "Organisation")}


def _name(memo: dict, key: str, pk: int) -> str:
    if key not in NAMED:
        return ""
    if (key, pk) not in memo:
        try:
            model = apps.get_model(*NAMED[key])
        except LookupError:
            return ""
        obj = model.objects.filter(pk=pk).select_related(*(["user"] if key == "practitioner_id" else [])).first()
        if obj is None:
            memo[key, pk] = f"number {pk} (no longer held)"
        elif key == "practitioner_id":
            memo[key, pk] = f"{obj.user.get_full_name() or obj.user.username} ({obj.user.username})"
        else:
            memo[key, pk] = obj.name
    return memo[key, pk]


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
