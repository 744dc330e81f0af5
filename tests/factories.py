"""Factories make valid, active things: a PractitionerFactory is vetted, trained and active."""

import random
from datetime import date, timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from factory.django import DjangoModelFactory

from children import identifiers
from children.models import Address, Child, Involvement
from practitioners import roles
from practitioners.models import LocalAuthority, LocalAuthorityAdmin, Organisation, Practitioner, Service


def nhs_number_for(n: int) -> str:
    """The n-th valid NHS number of a deterministic sequence."""
    rng = random.Random(n)
    while True:
        first_nine = str(rng.randint(100_000_000, 999_999_999))
        check = identifiers.nhs_check_digit(first_nine)
        if check is not None:
            return f"{first_nine}{check}"


def upn_for(n: int) -> str:
    body = f"{n:012d}"
    return identifiers.upn_check_letter(body) + body


class LocalAuthorityFactory(DjangoModelFactory):
    class Meta:
        model = LocalAuthority
        django_get_or_create = ("gss_code",)

    name = factory.Sequence(lambda n: f"Borough {n}")
    gss_code = factory.Sequence(lambda n: f"E0{n:07d}")
    safeguarding_contact = factory.Sequence(lambda n: f"safeguarding{n}@la.example.org")
    out_of_hours_phone = "0300 555 0100"


class ServiceFactory(DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"Service {n}")
    code = factory.Sequence(lambda n: f"service-{n}")
    sensitive = False


class OrganisationFactory(DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = Organisation.Kind.SOCIAL_CARE
    local_authority = factory.SubFactory(LocalAuthorityFactory)
    contact_phone = "020 7946 0000"
    contact_email = factory.Sequence(lambda n: f"team{n}@org.example.org")


def _group(name):
    return Group.objects.get_or_create(name=name)[0]


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct-horse-battery-staple")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for name in extracted or ():
            self.groups.add(_group(name))


class PractitionerFactory(DjangoModelFactory):
    """An active practitioner: vetting and training current, in the Practitioner group."""

    class Meta:
        model = Practitioner

    user = factory.SubFactory(UserFactory, roles=[roles.PRACTITIONER])
    organisation = factory.SubFactory(OrganisationFactory)
    job_title = "Social worker"
    work_phone = "020 7946 0001"
    work_email = factory.LazyAttribute(lambda p: p.user.email)
    vetting_checked_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))
    vetting_expires_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=700))
    training_completed_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))
    status = Practitioner.Status.ACTIVE
    approved_at = factory.LazyFunction(timezone.now)


class LAAdminFactory(DjangoModelFactory):
    """A user who is LA admin of one local authority."""

    class Meta:
        model = LocalAuthorityAdmin

    user = factory.SubFactory(UserFactory, roles=[roles.LA_ADMIN])
    local_authority = factory.SubFactory(LocalAuthorityFactory)


class ChildFactory(DjangoModelFactory):
    class Meta:
        model = Child

    given_names = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    date_of_birth = factory.Sequence(lambda n: date(2012, 1, 1) + timedelta(days=n * 3))
    sex = Child.Sex.FEMALE
    nhs_number = factory.Sequence(nhs_number_for)
    upn = None
    postcode = "W6 9LA"
    address_line = "1 Test Street"
    local_authority = factory.SubFactory(LocalAuthorityFactory)


class AddressFactory(DjangoModelFactory):
    class Meta:
        model = Address

    child = factory.SubFactory(ChildFactory)
    postcode = factory.LazyAttribute(lambda a: a.child.postcode)
    local_authority = factory.LazyAttribute(lambda a: a.child.local_authority)
    moved_in_on = date(2020, 1, 1)


class InvolvementFactory(DjangoModelFactory):
    class Meta:
        model = Involvement

    child = factory.SubFactory(ChildFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    service = factory.SubFactory(ServiceFactory)
    contact_phone = "020 7946 0002"
    started_on = date(2024, 1, 1)
    external_id = factory.Sequence(lambda n: f"ext-{n}")
