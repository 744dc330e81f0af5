"""No personal data in any log line: a whole practitioner journey with every logger at DEBUG.

The journey: sign in (password, then the authenticator's code), search by name and date of
birth, open the record, add an involvement, ask for access to another child. Every record
any logger emits, at any level, is collected; none may hold a child's name, date of birth
(in any usual format), NHS number (with or without spaces), postcode or address, nor an
email address. The audit tables are the one place these may be written.

Every logger runs at DEBUG, as with LOG_LEVEL=DEBUG in production, except the few that
settings.LOGGING caps on purpose, each for a reason named in CAPPED below (at DEBUG they
would write personal data: django.template dumps the template context of a failed lookup,
django.db.backends each SQL query with its parameters). The test checks those caps are in
the configuration, so removing one fails here.
"""

import logging
import re
from datetime import date

import pytest
from django.db import connection
from django.urls import reverse

from audit.context import RequestContext
from children.models import Involvement
from practitioners.models import AccessRequest
from practitioners.services import involvement_access_pairs, sync_organisation_access
from tests import factories
from tests.practitioners.conftest import current_code, enrol

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


class Everything(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines = []

    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {record.levelname} {text}")


CAPPED = {
    "django.request": "logs 4xx with the request path at WARNING: left at ERROR, as before",
    "django.template": "at DEBUG logs the whole template context (a child's record) on a failed lookup",
    "django.db.backends": "at DEBUG logs every SQL query with its parameters (names, dates of birth)",
}


@pytest.fixture
def every_log_line(settings):
    """Every logger at DEBUG but the capped ones; each line collected, whatever the logger's handlers."""
    assert not settings.DEBUG
    configured = settings.LOGGING["loggers"]
    assert set(configured) == set(CAPPED)
    assert all(logging.getLevelName(configured[name]["level"]) > logging.DEBUG for name in CAPPED)
    handler = Everything()
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(configured[lg.name]["level"] if lg.name in configured else logging.DEBUG)
        lg.disabled = False
        if lg is logging.getLogger() or not lg.propagate:
            lg.addHandler(handler)
    yield handler.lines
    for lg, level, disabled in saved:
        lg.setLevel(level)
        lg.disabled = disabled
        if handler in lg.handlers:
            lg.removeHandler(handler)


def date_forms(day: date) -> list[str]:
    return [day.isoformat(), day.strftime("%d/%m/%Y"), f"{day.day}/{day.month}/{day.year}",
            day.strftime("%d %B %Y"), f"{day.day} {day.strftime('%B %Y')}", day.strftime("%Y%m%d")]


def personal_data(*children, emails=()) -> list[str]:
    values = []
    for child in children:
        values += [child.given_names, child.family_name, child.postcode, child.postcode.replace(" ", ""),
                   child.address_line, *date_forms(child.date_of_birth)]
        if child.nhs_number:
            n = child.nhs_number
            values += [n, f"{n[:3]} {n[3:6]} {n[6:]}"]
    return [v for v in values + list(emails) if v]


def test_a_practitioner_journey_logs_no_personal_data(client, every_log_line):
    assert not connection.queries_logged, "SQL with its parameters would be logged: DEBUG must be off here"

    child = factories.ChildFactory(given_names="Marigold", family_name="Featherstonehaugh",
                                   date_of_birth=date(2016, 7, 23), postcode="LS6 2AB",
                                   address_line="7 Quarry Mount Terrace")
    other = factories.ChildFactory(given_names="Peregrine", family_name="Winterbottom",
                                   date_of_birth=date(2014, 2, 9), postcode="W6 9LA", address_line="2 Rivercourt Road",
                                   local_authority=child.local_authority)
    involvement = factories.InvolvementFactory(child=child, contact_email="school.nurse@trust.example.org")
    practitioner = factories.PractitionerFactory(organisation=involvement.organisation)
    practitioner.organisation.services.add(involvement.service)
    sync_organisation_access(opened=involvement_access_pairs([involvement]), context=RequestContext.system("test"))
    device = enrol(practitioner.user)
    secrets = personal_data(child, other, emails=[practitioner.user.email, "school.nurse@trust.example.org",
                                                  "new.team@trust.example.org"])

    # Sign in: password, then the code.
    assert client.post("/account/login/", {"login_view-current_step": "auth", "auth-username": practitioner.user.username,
                                           "auth-password": PASSWORD}).status_code == 200
    assert client.post("/account/login/", {"login_view-current_step": "token",
                                           "token-otp_token": current_code(device)}).status_code == 302
    # Search by name and date of birth, then by NHS number.
    found = client.post(reverse("children:search"), {"given_name": "Marigold", "family_name": "Featherstonehaugh",
                                                     "dob_day": "23", "dob_month": "7", "dob_year": "2016"})
    assert found.status_code == 200 and child.reference in found.content.decode()
    assert client.post(reverse("children:search"), {"nhs_number": other.nhs_number}).status_code == 200
    # Open the record, add an involvement.
    assert client.get(child.get_absolute_url()).status_code == 200
    service = factories.ServiceFactory()
    practitioner.organisation.services.add(service)
    added = client.post(reverse("children:add_involvement", kwargs={"reference": child.reference}), {
        "service": service.pk, "contact_phone": "020 7946 0123", "contact_email": "new.team@trust.example.org",
        "start_day": "6", "start_month": "1", "start_year": "2025"})
    assert added.status_code == 302 and Involvement.objects.filter(service=service).exists()
    # Ask for access to a child they cannot open.
    asked = client.post(reverse("practitioners:request_access", kwargs={"reference": other.reference}),
                        {"reason": "Allocated for a child and family assessment after a referral"})
    assert asked.status_code == 302 and AccessRequest.objects.filter(child=other).exists()

    assert every_log_line, "nothing was logged at all: the handler is not listening"
    leaks = [(value, line[:1500]) for line in every_log_line for value in secrets if value.lower() in line.lower()]
    assert leaks == [], "\n\n".join(f"{v!r} in: {l}" for v, l in leaks)
    assert [line[:200] for line in every_log_line if EMAIL.search(line)] == []


def test_the_sql_log_is_silent_in_production_even_at_debug(every_log_line):
    """DEBUG off (production): no query reaches django.db.backends, whatever its level."""
    logging.getLogger("django.db.backends").setLevel(logging.DEBUG)
    factories.ChildFactory(given_names="Octavia", family_name="Quillfeather")
    assert not any("Quillfeather" in line for line in every_log_line)
    assert not any(line.startswith("django.db.backends ") and "SELECT" in line for line in every_log_line)
