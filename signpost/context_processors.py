from django.conf import settings
from django.urls import NoReverseMatch, reverse

from practitioners import roles

# (label, url name, role that sees it; None = any signed-in user). Each app adds its pages here.
# A practitioner who is also an LA admin (or auditor) sees the entries of each role they hold.
NAVIGATION = [
    ("Home", "home", None),
    ("Search", "children:search", roles.PRACTITIONER),
    ("My access requests", "practitioners:my_requests", roles.PRACTITIONER),
    ("LA admin console", "practitioners:console", roles.LA_ADMIN),
    ("Audit log", "audit:events", roles.AUDITOR),
    ("Data feeds", "feeds:home", roles.LA_ADMIN),
    ("Upload involvements", "feeds:upload", "data_manager"),  # practitioners with the duty (issue 16)
    ("Sign-in security", "two_factor:profile", None),  # every role signs in with a second factor
]


def signpost(request):
    context = {"service_name": "Signpost", "embedded_mode": settings.EMBEDDED}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    held = set(user.groups.values_list("name", flat=True))
    if roles.PRACTITIONER in held:
        from practitioners.models import Practitioner

        if Practitioner.objects.filter(user_id=user.pk, data_manager=True).exists():
            held.add("data_manager")
    items = []
    for label, name, role in NAVIGATION:
        if role is not None and role not in held:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:  # an app not wired in yet (the audit console arrives with its issue)
            continue
        items.append({"label": label, "url": url, "active": request.path == url})
    context["nav_items"] = items
    return context
