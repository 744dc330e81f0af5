"""Every view writes its audit event: a reviewed table of URL name -> action, walked against the URL map.

A URL that is in neither table fails ``test_every_url_is_audited_or_allow_listed``: add
it to AUDITED with the action its view writes (and how to call it), or -- only for a
page that shows no data about anyone -- to NOT_AUDITED with the reason. A ``ns:*`` key
covers a whole namespace whose views are audited in one place.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from audit.context import RequestContext
from audit.models import AccessEvent
from audit.services import record_event
from practitioners import roles
from tests import factories


@dataclass(frozen=True)
class Audited:
    action: str  # the one event a request to the view must write
    user: str  # who makes the request: a key of the ``world`` fixture
    method: str = "get"
    url: Callable | None = None  # world -> URL, for patterns with arguments and ``ns:*`` entries
    data: Callable = field(default=lambda world: {})


AUDITED = {
    "audit:events": Audited("audit.events.view", "auditor"),
    "audit:export": Audited("audit.events.export", "auditor"),
    "audit:child_report": Audited("audit.child_report", "auditor", data=lambda w: {"ref": w["child"].reference}),
    "audit:child_report_csv": Audited("audit.child_report.export", "auditor",
                                      data=lambda w: {"ref": w["child"].reference}),
    "audit:anomalies": Audited("audit.anomalies.view", "auditor"),
    "audit:review_anomaly": Audited("audit.anomaly.open", "auditor", url=lambda w: reverse(
        "audit:review_anomaly", kwargs={"key": f"event:{w['denied_event'].pk}"})),
    "logout": Audited("logout", "practitioner", method="post"),
    # Every admin view, for staff, through audit.middleware.AdminAccessAuditMiddleware.
    "admin:*": Audited("admin.view", "superuser", url=lambda w: reverse("admin:children_child_change",
                                                                         args=[w["child"].pk])),
}

NOT_AUDITED = {
    "home": "Public landing page: fixed text and a sign-in button; no data about anyone.",
    "healthz": "Load-balancer liveness probe: answers {'status': 'ok'} after SELECT 1; no data.",
    "two_factor:login": "The sign-in form. Signing in is audited by practitioners.signals (login.success, "
                        "login.failure, login.lockout), not each step of the form.",
    "two_factor:setup": "Enrols the signed-in user's own authenticator app; no data about children.",
    "two_factor:qr": "The QR code image for that enrolment; no data about children.",
    "two_factor:setup_complete": "Confirmation page of that enrolment; no data.",
    "two_factor:backup_tokens": "The user's own recovery codes; no data about children.",
    "two_factor:profile": "The user's own second-factor settings; no data about children.",
    "two_factor:disable": "Turns off the user's own second factor (which then locks them out of every "
                          "data page); no data about children.",
    "api-schema": "OpenAPI description of the API (endpoints and fields, no records).",
    "api-docs": "The documentation page that renders that schema; no records.",
    "static": "Static files (CSS, JavaScript, fonts), served by whitenoise; no data.",
}


def url_names(patterns=None, namespaces=()):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from url_names(entry.url_patterns, namespaces + ((entry.namespace,) if entry.namespace else ()))
        elif isinstance(entry, URLPattern):
            yield ":".join(namespaces + (entry.name or f"<unnamed {entry.pattern}>",))


def covered(name: str, table: dict) -> bool:
    return name in table or any(key.endswith(":*") and name.startswith(key[:-1]) for key in table)


def test_every_url_is_audited_or_allow_listed():
    names = set(url_names())
    unknown = sorted(n for n in names if not covered(n, AUDITED) and not covered(n, NOT_AUDITED))
    assert unknown == [], f"URLs with no audit expectation (add them to AUDITED or NOT_AUDITED): {unknown}"


def test_the_tables_name_only_urls_that_exist():
    names = set(url_names())
    stale = [key for key in [*AUDITED, *NOT_AUDITED] if key != "static" and not (
        key in names or (key.endswith(":*") and any(n.startswith(key[:-1]) for n in names)))]
    assert stale == []
    assert not set(AUDITED) & set(NOT_AUDITED)


@pytest.fixture
def world(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    child = factories.ChildFactory()
    return {
        "child": child,
        "auditor": factories.UserFactory(roles=[roles.AUDITOR]),
        "superuser": factories.UserFactory(is_staff=True, is_superuser=True),
        "practitioner": factories.PractitionerFactory().user,
        "denied_event": record_event(action="child.view", context=RequestContext.system(), child=child,
                                     outcome=AccessEvent.Outcome.DENIED),
    }


@pytest.mark.parametrize("name", sorted(AUDITED))
def test_the_view_writes_exactly_its_event(client, login_verified, world, name):
    expected = AUDITED[name]
    login_verified(client, world[expected.user])
    url = expected.url(world) if expected.url else reverse(name)
    last = AccessEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = getattr(client, expected.method)(url, expected.data(world))
    if response.streaming:
        b"".join(response.streaming_content)
    assert response.status_code < 400
    written = list(AccessEvent.objects.filter(id__gt=last).values_list("action", flat=True))
    assert written == [expected.action]
