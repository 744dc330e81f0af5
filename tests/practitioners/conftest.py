"""A small cast for access-control tests: two local authorities, an admin of each, practitioners
of several statuses, an auditor, and a child of the first authority."""

from dataclasses import dataclass

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from practitioners import roles
from practitioners.models import Practitioner
from tests import factories
from tests.conftest import verified_login


@dataclass
class Cast:
    la: object
    other_la: object
    organisation: object
    admin: object  # LocalAuthorityAdmin row of ``la``
    other_admin: object  # LocalAuthorityAdmin row of ``other_la``
    practitioner: Practitioner
    pending: Practitioner
    auditor: object
    child: object


@pytest.fixture
def cast(db):
    la = factories.LocalAuthorityFactory(name="Hammersmith and Fulham")
    other_la = factories.LocalAuthorityFactory(name="Leeds")
    organisation = factories.OrganisationFactory(local_authority=la)
    return Cast(
        la=la, other_la=other_la, organisation=organisation,
        admin=factories.LAAdminFactory(local_authority=la),
        other_admin=factories.LAAdminFactory(local_authority=other_la),
        practitioner=factories.PractitionerFactory(organisation=organisation),
        pending=factories.PractitionerFactory(
            organisation=organisation, status=Practitioner.Status.PENDING, vetting_checked_on=None,
            vetting_expires_on=None, training_completed_on=None, approved_at=None),
        auditor=factories.UserFactory(roles=[roles.AUDITOR]),
        child=factories.ChildFactory(local_authority=la),
    )


@pytest.fixture
def as_user(client):
    """Sign ``user`` in with a verified second factor; returns the client."""
    def sign_in(user):
        return verified_login(client, user)
    return sign_in


def current_code(device: TOTPDevice) -> str:
    """The code an authenticator app would show now for this device."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def enrol(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
