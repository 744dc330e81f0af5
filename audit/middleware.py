"""The Django admin reaches child records too, so every staff request to it is an audit event."""

from django.contrib import admin

from audit.context import RequestContext
from audit.models import AccessEvent
from audit.services import record_event


class AdminAccessAuditMiddleware:
    """Record ``admin.view`` for each signed-in staff request to the admin, before the view runs.

    Written first and in its own transaction: if the event cannot be written the view
    never runs (fail closed). Names the child when the object is a child or belongs to one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        user = getattr(request, "user", None)
        if match is None or match.namespace != "admin" or not (user and user.is_authenticated and user.is_staff):
            return None
        object_id = view_kwargs.get("object_id", "")
        # A staff member the admin will refuse (no superuser, no verified second factor) is recorded
        # as a denied attempt: the password-only superuser shows up in the denied list.
        allowed = admin.site.has_permission(request)
        record_event(
            action="admin.view", context=RequestContext.of(request),
            outcome=AccessEvent.Outcome.ALLOWED if allowed else AccessEvent.Outcome.DENIED,
            child_ref=_child_ref(match.url_name, object_id) if object_id else "",
            details={"view": match.url_name or "", "method": request.method, "object_id": str(object_id)[:40]},
        )
        return None


def _child_ref(url_name: str, object_id: str) -> str:
    for model in admin.site._registry:
        opts = model._meta
        if not (url_name or "").startswith(f"{opts.app_label}_{opts.model_name}_"):
            continue
        if opts.label == "children.Child":
            path = "reference"
        elif any(f.name == "child" for f in opts.fields):
            path = "child__reference"
        else:
            return ""
        try:
            return model._default_manager.filter(pk=object_id).values_list(path, flat=True).first() or ""
        except (ValueError, TypeError):
            return ""
    return ""
