"""Every view writes its audit event: a reviewed table of URL name -> action, walked against the URL map.

A URL that is in neither table fails ``test_every_url_is_audited_or_allow_listed``: add
it to AUDITED with the action its view writes (and how to call it), or -- only for a
page that shows no data about anyone -- to NOT_AUDITED with the reason. A ``ns:*`` key
covers a whole namespace whose views are audited in one place. A form whose GET and POST
both write an event has one case for each; a form whose GET shows no data (so writes
nothing) is tested by its POST, and the comment above it says so.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from audit.context import RequestContext
from audit.models import AccessEvent
from audit.services import record_event
from feeds import csv_format, merging
from feeds.models import CsvUpload, MatchReview, OrganisationToken
from practitioners import roles
from practitioners.models import AccessGrant, AccessRequest, Practitioner, UserSession
from practitioners.services import grant_access, involvement_access_pairs, sync_organisation_access
from tests import factories


@dataclass(frozen=True)
class Audited:
    action: str | tuple[str, ...]  # the one event a request must write; a tuple: the events, in order
    user: str | None  # who makes the request: a key of the ``world`` fixture; None: nobody signed in
    method: str = "get"
    url: Callable | None = None  # world -> URL, for patterns with arguments and ``ns:*`` entries
    data: Callable = field(default=lambda world: {})
    auth: str = "session"  # "session": signed in with a verified second factor; "token": the user's API token;
    # "feed": an organisation's feed token, the raw key at ``world[user]``, sending ``data`` as JSON
    why: str = ""  # why one request writes more than one event

    def __post_init__(self):
        assert isinstance(self.action, str) or self.why, "say why one request writes several events"

    @property
    def actions(self) -> list[str]:
        return [self.action] if isinstance(self.action, str) else list(self.action)


def on_child(name: str, **more: Callable) -> Callable:
    """world -> URL of ``name`` for the world's child; ``more``: other URL arguments, each world -> value."""
    return lambda w: reverse(name, kwargs={"reference": w["child"].reference, **{k: f(w) for k, f in more.items()}})


def on(name: str, key: str) -> Callable:
    """world -> URL of ``name`` for the object ``world[key]``."""
    return lambda w: reverse(name, kwargs={"pk": w[key].pk})


def date_input(name: str, day) -> dict:
    """A GOV.UK date input as crispy-forms-gds names it: ``name_0`` day, ``name_1`` month, ``name_2`` year."""
    return {f"{name}_0": day.day, f"{name}_1": day.month, f"{name}_2": day.year}


def current_credentials(world) -> dict:
    today = timezone.localdate()
    return {**date_input("vetting_checked_on", today - timedelta(days=10)),
            **date_input("vetting_expires_on", today + timedelta(days=365)),
            **date_input("training_completed_on", today - timedelta(days=10))}


def registration(world) -> dict:
    return {"first_name": "Amira", "last_name": "Okafor", "email": "amira.okafor@school.example.org",
            "organisation": world["involvement"].organisation.pk, "job_title": "Designated safeguarding lead",
            "work_phone": "020 7946 0123", "username": "aokafor", "password1": "violet-kettle-marathon-42",
            "password2": "violet-kettle-marathon-42"}


def new_involvement(world) -> dict:
    return {"service": factories.ServiceFactory().pk, "contact_phone": "020 7946 0123",
            "start_day": "6", "start_month": "1", "start_year": "2025"}


def new_address(world) -> dict:
    day = timezone.localdate() - timedelta(days=1)
    return {"address_line": "14 Harbour Road", "postcode": "LS7 3QB",
            "local_authority": world["child"].local_authority.pk,
            "moved_day": day.day, "moved_month": day.month, "moved_year": day.year}


def approval(world) -> dict:
    return {"decision": "approve", **date_input("expires_on", timezone.localdate() + timedelta(days=30))}


def feed_row(world, external_id: str) -> dict:
    """A row from the involved organisation's system about the world's child (found by NHS number)."""
    child = world["child"]
    return {"external_id": external_id, "given_names": child.given_names, "family_name": child.family_name,
            "date_of_birth": child.date_of_birth.isoformat(), "sex": child.sex, "nhs_number": child.nhs_number,
            "postcode": "W6 9LA", "service": world["involvement"].service.code, "started_on": "2024-09-02",
            "contact_phone": "020 7946 0000", "contact_email": ""}


def csv_file(world) -> dict:
    row = feed_row(world, "CSV-1")
    body = csv_format.write_rows(csv_format.COLUMN_NAMES, [[row.get(name, "") for name in csv_format.COLUMN_NAMES]])
    return {"organisation": world["involvement"].organisation.pk,
            "file": SimpleUploadedFile("involvements.csv", body.encode(), content_type="text/csv")}


def merge_pair(world, **more) -> dict:
    return {"merged_reference": world["duplicate"].reference, "into_reference": world["keep"].reference,
            "reason": "Same child: the school and the GP registered her separately", **more}


END_INVOLVEMENT = on_child("children:end_involvement", involvement_id=lambda w: w["involvement"].pk)
A_GRANT_IS_AN_EVENT = "every grant and every revocation is an audit event of its own (SPEC 3.6)"

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

    # Search and the record (children.services). The search page's GET is the empty form: no data, no event.
    "children:search": Audited("child.search", "granted", method="post",
                               data=lambda w: {"nhs_number": w["child"].nhs_number}),
    "children:record": Audited("child.view", "granted", url=on_child("children:record")),
    "children:add_involvement": (
        Audited("involvement.add.start", "granted", url=on_child("children:add_involvement")),  # lists colleagues
        Audited(("involvement.add",), "granted", method="post",
                url=on_child("children:add_involvement"), data=new_involvement,
                why="the organisation already opens this record through its other open involvement, so its "
                    "access does not change: no grant event"),
    ),
    "children:end_involvement": (
        Audited("involvement.end.start", "granted", url=END_INVOLVEMENT),  # shows the service and organisation
        Audited(("involvement.end", "grant.organisation_end"), "granted", method="post", url=END_INVOLVEMENT,
                data=lambda w: {"end_day": "1", "end_month": "6", "end_year": "2024"},
                why=f"the organisation's only open involvement ends, and with it the organisation's access: "
                    f"{A_GRANT_IS_AN_EVENT}"),
    ),
    # The move form's GET shows no data (empty address fields, the list of local authorities): no event.
    "children:move": Audited("child.move", "granted", method="post", url=on_child("children:move"),
                             data=new_address),
    # Contact, not disclosure: any vetted practitioner, no grant needed ("practitioner" has none on the child).
    "children:contact": (
        Audited("contact.start", "practitioner", url=on_child("children:contact")),
        Audited("contact.request", "practitioner", method="post", url=on_child("children:contact"),
                data=lambda w: {"reason": "safeguarding"}),
    ),
    "children-api:search": Audited("child.search", "granted", method="post", auth="token",
                                   data=lambda w: {"nhs_number": w["child"].nhs_number}),
    "children-api:record": Audited("child.view", "granted", auth="token", url=on_child("children-api:record")),

    # Self-registration. Its GET lists organisations (public bodies), nobody's details: no event.
    "practitioners:register": Audited("practitioner.register", None, method="post", data=registration),
    "password_reset": Audited("password.reset.request", None, method="post",
                              data=lambda w: {"email": "someone@example.org"}),

    # A practitioner without a grant on the child: access requests and break-glass.
    "practitioners:request_access": (
        Audited("access_request.start", "practitioner", url=on_child("practitioners:request_access")),
        Audited("access_request.create", "practitioner", method="post", url=on_child("practitioners:request_access"),
                data=lambda w: {"reason": "Allocated for a child and family assessment after a referral"}),
    ),
    "practitioners:break_glass": (
        Audited("break_glass.start", "practitioner", url=on_child("practitioners:break_glass")),
        Audited("grant.break_glass", "practitioner", method="post", url=on_child("practitioners:break_glass"),
                data=lambda w: {"reason": "Police report the child missing overnight from home", "confirm": "on"}),
    ),
    "practitioners:my_requests": Audited("access_request.list_own", "requester"),

    # The LA admin console: pages through services.record_page_view, decisions through their services.
    "practitioners:console": Audited("console.home", "la_admin"),
    "practitioners:practitioner_list": Audited("console.practitioners", "la_admin"),
    "practitioners:practitioner_detail": Audited("console.practitioner", "la_admin",
                                                 url=on("practitioners:practitioner_detail", "active")),
    "practitioners:new_practitioner": Audited(
        ("practitioner.create", "practitioner.approve"), "la_admin", method="post",
        data=lambda w: {"first_name": "Priya", "last_name": "Shah", "email": "priya.shah@trust.example.org",
                        "organisation": w["involvement"].organisation.pk, "job_title": "Health visitor",
                        "work_phone": "020 7946 0999", "username": "pshah", **current_credentials(w)},
        why="the account is created, then approved with the vetting and training the admin has seen: two "
            "decisions, each its own event (the blank form's GET lists only the admin's own organisations)"),
    "practitioners:approve": (
        Audited("console.approve_form", "la_admin", url=on("practitioners:approve", "pending")),
        Audited("practitioner.approve", "la_admin", method="post", url=on("practitioners:approve", "pending"),
                data=current_credentials),
    ),
    "practitioners:suspend": (
        Audited("console.suspend_form", "la_admin", url=on("practitioners:suspend", "active")),
        Audited("practitioner.suspend", "la_admin", method="post", url=on("practitioners:suspend", "active"),
                data=lambda w: {"reason": "Under investigation"}),
    ),
    "practitioners:reinstate": (
        Audited("console.reinstate_form", "la_admin", url=on("practitioners:reinstate", "suspended")),
        Audited("practitioner.reinstate", "la_admin", method="post", url=on("practitioners:reinstate", "suspended"),
                data=lambda w: {"reason": "Investigation closed"}),
    ),
    "practitioners:vetting": (
        Audited("console.vetting_form", "la_admin", url=on("practitioners:vetting", "active")),
        Audited("practitioner.credentials", "la_admin", method="post", url=on("practitioners:vetting", "active"),
                data=current_credentials),
    ),
    "practitioners:clear_lockout": Audited("login.lockout.clear", "la_admin", method="post",
                                           url=on("practitioners:clear_lockout", "active")),
    "practitioners:access_requests": Audited("console.access_requests", "la_admin"),
    # "Your sessions": the user's own sign-ins (where from, on what), and ending one of the others.
    "practitioners:sessions": Audited("session.list", "granted"),
    "practitioners:end_session": Audited("session.end", "granted", method="post",
                                         url=on("practitioners:end_session", "other_session")),
    "practitioners:decide_access_request": (
        Audited("console.access_request", "la_admin", url=on("practitioners:decide_access_request", "access_request")),
        Audited(("grant.access_request", "access_request.approve"), "la_admin", method="post",
                url=on("practitioners:decide_access_request", "access_request"), data=approval,
                why=f"approving gives the grant, then records the decision: {A_GRANT_IS_AN_EVENT}"),
    ),
    "practitioners:break_glass_reviews": Audited("console.break_glass", "la_admin"),
    "practitioners:review_break_glass": (
        Audited("console.break_glass_use", "la_admin", url=on("practitioners:review_break_glass", "break_glass")),
        Audited("break_glass.review", "la_admin", method="post",
                url=on("practitioners:review_break_glass", "break_glass"),
                data=lambda w: {"outcome": "justified", "comment": "Confirmed with the police"}),
    ),

    # Feeds (feeds.views): LA admin pages audit through feeds' services or audit the page read in the same
    # transaction; the review page's POST first opens the review (so the form can check the decision
    # against the candidates it showed), then writes the decision.
    "feeds:home": Audited("feed.hub.view", "la_admin"),
    "feeds:tokens": (
        Audited("feed.token.list", "la_admin"),
        Audited("feed.token.issue", "la_admin", method="post",
                data=lambda w: {"organisation": w["involvement"].organisation.pk, "name": "School MIS export"}),
    ),
    "feeds:token_rotate": Audited(("feed.token.revoke_rotated", "feed.token.rotate"), "la_admin", method="post",
                                  url=on("feeds:token_rotate", "feed_token"),
                                  why="rotating revokes the old token and issues its replacement, each audited"),
    "feeds:token_revoke": (
        Audited("feed.token.view", "la_admin", url=on("feeds:token_revoke", "feed_token")),
        Audited("feed.token.revoke", "la_admin", method="post", url=on("feeds:token_revoke", "feed_token")),
    ),
    "feeds:reviews": Audited("feed.review.list", "la_admin"),
    "feeds:review": (
        Audited("feed.review.view", "la_admin", url=on("feeds:review", "review")),
        Audited(("feed.review.view", "feed.review.same_child"), "la_admin", method="post",
                url=on("feeds:review", "review"), data=lambda w: {"decision": str(w["child"].pk)},
                why="the decision is checked against the candidates the review shows (opened, so audited); the "
                    "organisation already has access to the chosen child, so no grant event"),
    ),
    "feeds:merges": Audited("child.merge.list", "la_admin"),
    "feeds:merge": (
        Audited("child.merge.form", "la_admin"),
        Audited("child.merge.preview", "la_admin", method="post", data=merge_pair),  # both records side by side
        Audited("child.merge", "la_admin", method="post", data=lambda w: merge_pair(w, confirm="yes")),
    ),
    "feeds:merge_undo": Audited("child.unmerge", "la_admin", method="post", url=on("feeds:merge_undo", "merge")),
    "feeds:quality": Audited("feed.quality.view", "la_admin"),
    # CSV uploads: a practitioner for their own organisation (here the involved one).
    "feeds:upload": (
        Audited("feed.csv.form", "granted"),  # lists the uploads they can see
        Audited("feed.csv.upload", "granted", method="post", data=csv_file),
    ),
    "feeds:upload_template": Audited("feed.csv.template", "granted"),
    "feeds:upload_detail": (
        Audited("feed.csv.view", "granted", url=on("feeds:upload_detail", "upload")),
        Audited("feed.csv.commit", "granted", method="post", url=on("feeds:upload_detail", "upload"),
                data=lambda w: {"action": "commit"}),
        Audited("feed.csv.discard", "granted", method="post", url=on("feeds:upload_detail", "upload"),
                data=lambda w: {"action": "discard"}),
    ),
    "feeds:upload_status": Audited("feed.csv.status", "granted", url=on("feeds:upload_status", "upload")),
    "feeds:upload_errors": Audited("feed.csv.errors", "granted", url=on("feeds:upload_errors", "upload")),
    # The organisation's system pushes rows with its feed token (feeds.ingest audits the batch once).
    "feeds-api:involvements-bulk": Audited(
        ("feed.bulk",), "feed_key", method="post", auth="feed",
        data=lambda w: {"rows": [feed_row(w, "API-1")]},
        why="one event per batch: the access the batch gives its organisation is counted in it (organisation_access), "
            "and each involvement behind that has its change history"),
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
    "practitioners:registered": "Fixed text after self-registration ('waiting for approval'); no data.",
    "password_reset_done": "Fixed text after asking for a reset link ('check your email'); no data.",
    "password_reset_confirm": "The new-password form behind an emailed link. Setting the password is audited "
                              "(password.reset): tests/practitioners/test_password_reset.py follows the link "
                              "first, as the form needs the session step the link's visit makes.",
    "password_reset_complete": "Fixed text after a password reset ('sign in again'); no data.",
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
def world(db):
    """The people and things every case needs, around one child of one local authority."""
    system = RequestContext.system("test")
    child = factories.ChildFactory()
    la = child.local_authority
    involved = factories.OrganisationFactory(local_authority=la)  # works with the child
    granted = factories.PractitionerFactory(organisation=involved)
    involvement = factories.InvolvementFactory(child=child, organisation=involved)
    sync_organisation_access(opened=involvement_access_pairs([involvement]), context=system)  # granted opens the child through it
    Token.objects.create(user=granted.user)
    other = factories.OrganisationFactory(local_authority=la)  # same LA, no involvement: no grants follow
    requester = factories.PractitionerFactory(organisation=other)
    emergency = factories.PractitionerFactory(organisation=other)
    la_admin = factories.LAAdminFactory(local_authority=la).user
    feed_key = OrganisationToken.new_key()
    merged, kept = (factories.ChildFactory(local_authority=la, nhs_number=None, upn=None) for _ in range(2))
    la_admin.is_verified = lambda: True  # as django-otp marks a user signed in with their second factor
    merge = merging.merge_children(user=la_admin, merged_child=merged, into=kept, reason="Registered twice",
                                   context=system)
    del la_admin.is_verified
    return {
        "child": child,
        "auditor": factories.UserFactory(roles=[roles.AUDITOR]),
        "superuser": factories.UserFactory(is_staff=True, is_superuser=True),
        "practitioner": factories.PractitionerFactory().user,  # another LA, no grant on the child
        "denied_event": record_event(action="child.view", context=system, child=child,
                                     outcome=AccessEvent.Outcome.DENIED),
        "granted": granted.user,
        "involvement": involvement,
        "la_admin": la_admin,
        "pending": factories.PractitionerFactory(
            organisation=other, status=Practitioner.Status.PENDING, vetting_checked_on=None,
            vetting_expires_on=None, training_completed_on=None, approved_at=None),
        "active": factories.PractitionerFactory(organisation=other),
        "suspended": factories.PractitionerFactory(organisation=other, status=Practitioner.Status.SUSPENDED),
        "requester": requester.user,
        "access_request": AccessRequest.objects.create(
            practitioner=requester, child=child, reason="Allocated for a child and family assessment"),
        "break_glass": grant_access(
            practitioner=emergency, child=child, source=AccessGrant.Source.BREAK_GLASS,
            reason="Police report the child missing overnight from home", granted_by=emergency.user,
            expires_at=timezone.now() + settings.BREAK_GLASS_WINDOW, context=system),
        # Feeds: the involved organisation's token, a row waiting for review, a checked upload, a merge.
        "feed_key": feed_key,
        "feed_token": OrganisationToken.objects.create(
            name="MIS export", organisation=involved, prefix=feed_key[:10],
            key_hash=OrganisationToken.hash_key(feed_key)),
        "review": MatchReview.objects.create(
            organisation=involved, external_id="EXT-R1",
            row={"external_id": "EXT-R1", "given_names": child.given_names, "family_name": "Kocinski",
                 "date_of_birth": child.date_of_birth.isoformat(), "sex": child.sex, "postcode": "LS6 2AB",
                 "service": involvement.service.code, "started_on": "2024-09-02",
                 "contact_phone": "020 7946 0000", "contact_email": ""},
            candidates=[{"child_id": child.pk, "score": 0.9, "reasons": ["Date of birth the same"]}]),
        "upload": CsvUpload.objects.create(
            organisation=involved, uploaded_by=granted.user, filename="involvements.csv", content=b"x",
            status=CsvUpload.Status.VALIDATED, total_rows=2, valid_rows=1, error_count=1,
            errors=[{"line": 3, "column": "date_of_birth", "message": "Enter a real date."}]),
        "merge": merge,
        "other_session": UserSession.objects.create(user=granted.user, session_key="another-browser-0123456789"),
        "duplicate": factories.ChildFactory(local_authority=la, nhs_number=None, upn=None),  # registered twice
        "keep": factories.ChildFactory(local_authority=la),
    }


CASES = [(name, case) for name, entry in sorted(AUDITED.items())
         for case in (entry if isinstance(entry, tuple) else (entry,))]


@pytest.mark.parametrize("name, expected", CASES, ids=[f"{name}-{case.method}" for name, case in CASES])
def test_the_view_writes_exactly_its_event(client, login_verified, world, name, expected):
    headers = {}
    if expected.auth == "feed":
        headers["HTTP_AUTHORIZATION"] = f"Token {world[expected.user]}"
        headers["content_type"] = "application/json"
    elif expected.auth == "token":
        headers["HTTP_AUTHORIZATION"] = f"Token {Token.objects.get(user=world[expected.user]).key}"
    elif expected.user is not None and expected.auth == "session":
        login_verified(client, world[expected.user])
    url = expected.url(world) if expected.url else reverse(name)
    data = expected.data(world)
    last = AccessEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = getattr(client, expected.method)(url, data, **headers)
    if response.streaming:
        b"".join(response.streaming_content)
    assert response.status_code < 400
    written = list(AccessEvent.objects.filter(id__gt=last).order_by("id").values_list("action", flat=True))
    assert written == expected.actions
