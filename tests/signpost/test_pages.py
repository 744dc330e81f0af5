import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_landing_page_explains_the_service_and_offers_sign_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"Find who is working with a child" in response.content
    assert reverse("two_factor:login").encode() in response.content


def test_every_page_carries_a_content_security_policy(client):
    response = client.get(reverse("home"))
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "cdn" not in response.content.decode().lower()


def test_the_login_page_renders_in_the_service_layout(client):
    response = client.get(reverse("two_factor:login"))
    assert response.status_code == 200
    assert b"govuk-template" in response.content


def test_health_check_answers_without_personal_data(client):
    assert client.get(reverse("healthz")).json() == {"status": "ok"}


def test_static_assets_are_served_by_the_app_itself(client):
    from django.contrib.staticfiles import finders

    assert finders.find("govuk/govuk-frontend.min.css")
    assert finders.find("govuk/assets/fonts/bold-b542beb274-v2.woff2")


# Page titles: "<what this page is> – Signpost", "Error: " first when a form has errors -----------------------------

import re  # noqa: E402
from pathlib import Path  # noqa: E402
from datetime import timedelta  # noqa: E402

from django.test import Client  # noqa: E402
from django.urls import URLPattern, URLResolver, get_resolver  # noqa: E402
from django.utils import timezone  # noqa: E402

from practitioners import roles  # noqa: E402
from practitioners.models import AccessGrant, AccessRequest  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import verified_login  # noqa: E402

TITLE = re.compile(r"<title>(.*?)</title>", re.S)
# Routes that answer with something other than an HTML page.
NOT_PAGES = {"healthz", "logout", "two_factor:qr", "audit:export", "audit:child_report_csv", "feeds:upload_template",
             "feeds:upload_status", "feeds:upload_errors", "api-schema", "api-docs", "feeds:token_rotate",
             "feeds:token_revoke", "feeds:merge_undo"}


def _named_routes(patterns=None, namespace=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin" or str(pattern.pattern).startswith("api/"):
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _named_routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name and not str(pattern.pattern).startswith("api/"):
            yield f"{namespace}{pattern.name}", pattern


def _title(response) -> str:
    match = TITLE.search(response.content.decode())
    assert match, f"{response.request['PATH_INFO']} has no <title>"
    return " ".join(match.group(1).split())


@pytest.fixture
def everyone():
    """A practitioner who is also an LA admin and an auditor, with one of everything to look at."""
    la = factories.LocalAuthorityFactory()
    practitioner = factories.PractitionerFactory(organisation__local_authority=la)
    practitioner.user.groups.add(*[factories._group(name) for name in (roles.LA_ADMIN, roles.AUDITOR)])
    factories.LAAdminFactory(user=practitioner.user, local_authority=la)
    child = factories.ChildFactory(local_authority=la)
    involvement = factories.InvolvementFactory(child=child, organisation=practitioner.organisation)
    from audit.context import RequestContext
    from practitioners.services import involvement_access_pairs, sync_organisation_access
    sync_organisation_access(opened=involvement_access_pairs([involvement]), context=RequestContext.system("test"))
    colleague = factories.PractitionerFactory(organisation__local_authority=la)
    request = AccessRequest.objects.create(practitioner=colleague, child=child, reason="New pupil")
    grant = AccessGrant.objects.create(practitioner=colleague, child=child, source=AccessGrant.Source.BREAK_GLASS,
                                       reason="Missing overnight", expires_at=timezone.now() + timedelta(hours=4))
    kwargs = {"reference": child.reference, "involvement_id": involvement.pk, "uidb64": "MQ", "token": "nope",
              "key": "event:999999"}
    pks = {"practitioners:decide_access_request": request.pk, "practitioners:review_break_glass": grant.pk}
    return verified_login(Client(), practitioner.user), kwargs, pks, colleague


def test_every_page_in_the_url_map_is_titled_what_it_is_then_signpost(everyone):
    client, kwargs, pks, colleague = everyone
    seen = 0
    for name, pattern in _named_routes():
        if name in NOT_PAGES:
            continue
        # Known objects where we have them; otherwise an id nobody holds, whose 404 page must be titled too.
        args = {key: kwargs.get(key, 999999 if type(conv).__name__ == "IntConverter" else "missing")
                for key, conv in pattern.pattern.converters.items() if key != "pk"}
        if "pk" in pattern.pattern.converters:
            args["pk"] = pks.get(name, colleague.pk if name.startswith("practitioners:") else 999999)
        response = client.get(reverse(name, kwargs=args), follow=True)
        if response.status_code == 405:  # a POST-only action (end a session, clear a lockout): no page to title
            continue
        title = _title(response)
        assert re.fullmatch(r"(Error: )?\S.* – Signpost", title), f"{name}: {title!r}"
        assert "Signpost –" not in title and "Signpost Signpost" not in title, f"{name}: {title!r}"
        seen += 1
    assert seen > 40


@pytest.mark.parametrize("name, data", [("children:search", {"family_name": "Smith"}),
                                        ("practitioners:new_practitioner", {"first_name": ""}),
                                        ("practitioners:register", {"first_name": ""})])
def test_a_page_whose_form_has_errors_says_error_first_in_its_title(everyone, name, data):
    client = everyone[0] if name != "practitioners:register" else Client()  # registration is for the signed out
    response = client.post(reverse(name), data)
    assert response.status_code == 400 or b"govuk-error-summary" in response.content
    assert _title(response).startswith("Error: ") and _title(response).endswith(" – Signpost")


# Error pages: GOV.UK for every path, JSON for the API ---------------------------------------------------------------

def _assert_govuk_error_page(response, status, heading):
    assert response.status_code == status
    html = response.content.decode()
    assert "govuk-template" in html and "govuk-header" in html
    assert f'<h1 class="govuk-heading-l">{heading}</h1>' in html
    assert _title(response) == f"{heading} – Signpost"


@pytest.fixture
def debug_off(settings):
    settings.DEBUG = False


def test_a_missing_child_gets_the_govuk_page_not_found(debug_off, practitioner):
    client = verified_login(Client(), practitioner.user)
    _assert_govuk_error_page(client.get("/children/C-XXXXX-XXXXX/"), 404, "Page not found")


def test_an_unknown_address_gets_the_govuk_page_not_found_even_signed_out(debug_off, client):
    _assert_govuk_error_page(client.get("/no-such-page/"), 404, "Page not found")


def test_a_practitioner_opening_the_audit_log_gets_the_govuk_forbidden_page(debug_off, practitioner):
    from audit.models import AccessEvent

    client = verified_login(Client(), practitioner.user)
    _assert_govuk_error_page(client.get(reverse("audit:events")), 403, "You cannot see this page")
    assert AccessEvent.objects.filter(action="audit.console.refused", actor_username=practitioner.user.username,
                                      outcome="denied").exists()


def test_a_bad_host_header_gets_the_govuk_bad_request_page(debug_off, client):
    _assert_govuk_error_page(client.get("/", HTTP_HOST="evil.example"), 400,
                             "There is a problem with your request")


def test_an_expired_form_token_gets_a_govuk_page_not_djangos_bare_one(debug_off, db):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("two_factor:login"), {"login_view-current_step": "auth"})
    assert response.status_code == 403
    assert "govuk-template" in response.content.decode() and _title(response) == "Your form has expired – Signpost"


def _boom(request):
    raise RuntimeError("Kacper Kociński 9434765919")  # what an exception might carry: never shown


@pytest.fixture
def faulty_urls(settings):
    """The real URL map plus one view that fails, to see the 500 page (handlers come from the root URLconf)."""
    import sys
    import types

    from django.urls import path

    from signpost import urls

    module = types.ModuleType("tests.signpost._faulty_urls")
    module.urlpatterns = [path("boom/", _boom), path("api/v1/boom/", _boom), *urls.urlpatterns]
    for name in ("handler400", "handler403", "handler404", "handler500"):
        setattr(module, name, getattr(urls, name))
    sys.modules[module.__name__] = module
    settings.ROOT_URLCONF = module.__name__
    yield
    del sys.modules[module.__name__]


def test_a_server_error_gets_the_govuk_page_and_shows_nothing_of_the_exception(debug_off, faulty_urls, db):
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    _assert_govuk_error_page(response, 500, "Sorry, there is a problem with the service")
    assert "Kociński" not in response.content.decode() and "9434765919" not in response.content.decode()


def test_api_paths_keep_json_errors(debug_off, faulty_urls, db):
    client = Client(raise_request_exception=False)
    missing = client.get("/api/v1/no-such-endpoint/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
    failed = client.get("/api/v1/boom/")
    assert failed.status_code == 500 and failed.json() == {"detail": "Server error."}


def test_every_template_in_the_layout_names_its_page():
    """Pages reached only by a POST (a limit, a confirmation) are not in the URL walk above: check the templates."""
    root = Path(__file__).resolve().parents[2]
    templates = {}
    for folder in [root / "templates", *root.glob("*/templates")]:
        for path in folder.rglob("*.html"):
            text = path.read_text()
            extends = re.search(r'{%\s*extends\s+"([^"]+)"', text)
            templates[str(path.relative_to(folder))] = (extends.group(1) if extends else None,
                                                       "{% block page_title %}" in text)

    def titled(name, seen=()):  # the layout's own empty page_title block does not count
        extends, has_title = templates.get(name, (None, False))
        return has_title or (extends not in (None, "layouts/base.html") and extends not in seen
                             and titled(extends, (*seen, name)))

    def in_layout(name, seen=()):
        extends = templates.get(name, (None, False))[0]
        return extends == "layouts/base.html" or (extends in templates and extends not in seen
                                                   and in_layout(extends, (*seen, name)))

    pages = [name for name in templates if in_layout(name) and not name.split("/")[-1].startswith("_")]
    assert len(pages) > 50
    assert [name for name in pages if not titled(name)] == []
