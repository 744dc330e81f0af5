from django.conf import settings
from django.urls import NoReverseMatch, reverse

from practitioners import roles

# (label, url name, role that sees it; None = any signed-in user). Each app adds its pages here.
NAVIGATION = [
    ("Home", "home", None),
    ("Search", "children:search", roles.PRACTITIONER),
    ("LA admin", "practitioners:console", roles.LA_ADMIN),
    ("Audit log", "audit:events", roles.AUDITOR),
    ("Data feeds", "feeds:home", roles.LA_ADMIN),
    ("Upload involvements", "feeds:upload", roles.PRACTITIONER),
]


def signpost(request):
    context = {"service_name": "Signpost", "embedded_mode": settings.EMBEDDED}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    held = set(user.groups.values_list("name", flat=True))
    items = []
    for label, name, role in NAVIGATION:
        if role is not None and role not in held:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:  # that app's pages are not wired yet
            continue
        items.append({"label": label, "url": url, "active": request.path == url})
    context["nav_items"] = items
    return context
