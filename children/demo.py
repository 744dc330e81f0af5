"""A small, coherent demo world: three local authorities, their organisations and
services, practitioners of each role, ~200 children with involvements, one child
who moved area, one shielded child. Deterministic for a seed and idempotent: it
looks everything up by a stable key before creating it.
"""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from faker import Faker

from audit.context import RequestContext
from children import identifiers
from children.models import Address, Child, ChildName, Involvement
from practitioners import roles
from practitioners.models import (
    LocalAuthority,
    LocalAuthorityAdmin,
    Organisation,
    Practitioner,
    Service,
)
from practitioners.services import sync_organisation_access

AUTHORITIES = [
    # name, GSS code, postcode districts, safeguarding contact, out-of-hours
    ("Hammersmith and Fulham", "E09000013", ["W6", "W12", "W14", "SW6"], "020 8753 6610", "020 8748 8588"),
    ("Leeds", "E08000035", ["LS6", "LS7", "LS8", "LS11", "LS12"], "0113 376 0336", "0113 535 0600"),
    ("Cornwall", "E06000052", ["TR1", "TR14", "PL25", "PL26"], "0300 123 1116", "01208 251 300"),
]
SERVICES = [
    ("School", "school", False),
    ("Health visiting", "health-visiting", False),
    ("School nursing", "school-nursing", False),
    ("General practice", "gp", False),
    ("Children's social care", "social-care", False),
    ("Early help", "early-help", False),
    ("Youth justice", "youth-justice", False),
    ("Child and adolescent mental health (CAMHS)", "camhs", True),
    ("Sexual health", "sexual-health", True),
    ("Young people's substance misuse", "substance-misuse", True),
]
ORGANISATIONS = [
    # suffix, kind, service codes
    ("Primary School", Organisation.Kind.SCHOOL, ["school"]),
    ("Academy", Organisation.Kind.SCHOOL, ["school"]),
    ("Medical Practice", Organisation.Kind.GP_PRACTICE, ["gp"]),
    ("Community Health NHS Trust", Organisation.Kind.NHS_TRUST, ["health-visiting", "school-nursing", "camhs", "sexual-health"]),
    ("Children's Social Care", Organisation.Kind.SOCIAL_CARE, ["social-care", "early-help"]),
    ("Youth Justice Service", Organisation.Kind.YOUTH_JUSTICE, ["youth-justice", "substance-misuse"]),
]
DEMO_PASSWORD = "signpost-demo-only"
_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass
class DemoLogin:
    username: str
    role: str
    local_authority: str


@dataclass
class DemoWorld:
    logins: list[DemoLogin] = field(default_factory=list)
    children: int = 0
    involvements: int = 0
    moved_child: Child | None = None
    shielded_child: Child | None = None


def valid_nhs_number(rng: random.Random) -> str:
    while True:
        first_nine = "".join(rng.choice("0123456789") for _ in range(9))
        check = identifiers.nhs_check_digit(first_nine)
        if check is not None and first_nine[0] != "0":
            return f"{first_nine}{check}"


def valid_upn(rng: random.Random) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(12))
    return identifiers.upn_check_letter(body) + body


def demo_postcode(rng: random.Random, districts: list[str]) -> str:
    return f"{rng.choice(districts)} {rng.randint(1, 9)}{rng.choice(_UNIT_LETTERS)}{rng.choice(_UNIT_LETTERS)}"


def totp_key_for(username: str, seed: int) -> str:
    """A deterministic 20-byte TOTP key per demo user, so the demo is reproducible."""
    rng = random.Random(f"{seed}:{username}")
    return "".join(f"{rng.randrange(256):02x}" for _ in range(20))


@transaction.atomic
def build_demo_world(*, seed: int = 2026, children_per_authority: int = 67) -> DemoWorld:
    rng = random.Random(seed)
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    world = DemoWorld()
    today = timezone.localdate()

    services = {}
    for name, code, sensitive in SERVICES:
        services[code], _ = Service.objects.get_or_create(code=code, defaults={"name": name, "sensitive": sensitive})

    groups = {name: Group.objects.get_or_create(name=name)[0] for name in roles.ALL}
    authorities = []
    for name, gss, districts, safeguarding, ooh in AUTHORITIES:
        la, _ = LocalAuthority.objects.get_or_create(
            gss_code=gss, defaults={"name": name, "safeguarding_contact": safeguarding, "out_of_hours_phone": ooh}
        )
        orgs = []
        for suffix, kind, codes in ORGANISATIONS:
            org, created = Organisation.objects.get_or_create(
                local_authority=la, name=f"{name} {suffix}",
                defaults={"kind": kind, "contact_phone": fake.phone_number(),
                          "contact_email": f"team@{suffix.split()[0].lower()}.{gss.lower()}.example.org"},
            )
            if created:
                org.services.set([services[c] for c in codes])
            orgs.append(org)
        authorities.append((la, districts, orgs))

    slug = {la.gss_code: la.name.split()[0].lower() for la, _, _ in authorities}
    for la, _, orgs in authorities:
        key = slug[la.gss_code]
        _demo_user(world, f"{key}.social", groups[roles.PRACTITIONER], la, orgs[4], "Social worker", seed, today)
        _demo_user(world, f"{key}.nurse", groups[roles.PRACTITIONER], la, orgs[3], "School nurse", seed, today)
        _demo_user(world, f"{key}.teacher", groups[roles.PRACTITIONER], la, orgs[0], "Designated safeguarding lead", seed, today)
        admin = _demo_user(world, f"{key}.admin", groups[roles.LA_ADMIN], la, None, "LA admin", seed, today)
        LocalAuthorityAdmin.objects.get_or_create(user=admin, local_authority=la)
    _demo_user(world, "auditor", groups[roles.AUDITOR], authorities[0][0], None, "Auditor", seed, today)

    for la, districts, orgs in authorities:
        for i in range(children_per_authority):
            child = _demo_child(rng, fake, la, districts, orgs, services, today)
            world.children += 1
            world.involvements += child.involvements.count()

    world.moved_child = _demo_move(rng, authorities, services, today)
    world.shielded_child = _demo_shielded(authorities, services, today)
    # Organisations' access follows their open involvements, as it does for involvements added
    # through the app.
    sync_organisation_access(opened=Involvement.objects.open().values_list("organisation_id", "child_id"),
                             context=RequestContext.system("seed_demo"))
    return world


def _demo_user(world, username, group, la, organisation, title, seed, today):
    User = get_user_model()
    first, last = username.split(".")[0].title(), title.split()[-1].title()
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    user.groups.add(group)
    if organisation is not None:
        Practitioner.objects.get_or_create(
            user=user,
            defaults={
                "organisation": organisation, "job_title": title, "work_email": user.email,
                "work_phone": organisation.contact_phone, "vetting_checked_on": today - timedelta(days=200),
                "vetting_expires_on": today + timedelta(days=900), "training_completed_on": today - timedelta(days=100),
                "status": Practitioner.Status.ACTIVE, "approved_at": timezone.now(),
            },
        )
    TOTPDevice.objects.get_or_create(user=user, name="demo", defaults={"key": totp_key_for(username, seed)})
    world.logins.append(DemoLogin(username=username, role=group.name, local_authority=la.name))
    return user


def _demo_child(rng, fake, la, districts, orgs, services, today):
    # Draw every random value first, whether or not the child exists yet, so a
    # second run walks the same random sequence and finds the same children.
    nhs = valid_nhs_number(rng)
    sex = rng.choice([Child.Sex.FEMALE, Child.Sex.MALE])
    given = fake.first_name_female() if sex == Child.Sex.FEMALE else fake.first_name_male()
    family = fake.last_name()
    if rng.random() < 0.08:
        family = f"{family}-{fake.last_name()}"
    dob = today - timedelta(days=rng.randint(60, 17 * 365))
    upn = valid_upn(rng) if dob < today - timedelta(days=4 * 365) else None
    postcode = demo_postcode(rng, districts)
    address_line = fake.street_address().replace("\n", ", ")
    moved_in_on = max(dob, today - timedelta(days=rng.randint(100, 2000)))
    previous_family = fake.last_name() if rng.random() < 0.1 else None
    plans = []
    for _ in range(rng.randint(1, 3)):
        org = rng.choice(orgs)
        service = rng.choice(sorted(org.services.all(), key=lambda s: s.code))
        started = today - timedelta(days=rng.randint(10, 900))
        ended = started + timedelta(days=rng.randint(30, 300)) if rng.random() < 0.3 else None
        plans.append((org, service, started, ended if ended and ended <= today else None))

    child = Child.objects.filter(nhs_number=nhs).first()
    if child is not None:
        return child
    child = Child.objects.create(
        given_names=given, family_name=family, date_of_birth=dob, sex=sex, nhs_number=nhs, upn=upn,
        address_line=address_line, postcode=postcode, local_authority=la,
    )
    Address.objects.create(child=child, address_line=address_line, postcode=postcode, local_authority=la,
                           moved_in_on=moved_in_on)
    if previous_family:
        ChildName.objects.create(child=child, kind=ChildName.Kind.PREVIOUS, given_names=given,
                                 family_name=previous_family)
    for org, service, started, ended in plans:
        Involvement.objects.get_or_create(
            organisation=org, external_id=f"demo-{nhs}-{service.code}",
            defaults={"child": child, "service": service, "contact_phone": org.contact_phone,
                      "contact_email": org.contact_email, "started_on": started, "ended_on": ended},
        )
    return child


def _demo_move(rng, authorities, services, today):
    """One child who lived in the first LA and moved to the second: history travels with them."""
    (old_la, _, old_orgs), (new_la, _, new_orgs) = authorities[0], authorities[1]
    child = Child.objects.filter(nhs_number="9434765919").first()
    if child is not None:
        return child
    old_postcode, new_postcode = "W12 7RJ", "LS7 3QB"
    child = Child.objects.create(
        given_names="Kacper", family_name="Kociński", date_of_birth=date(2015, 3, 9), sex=Child.Sex.MALE,
        nhs_number="9434765919", upn=None, address_line="14 Harbour Road", postcode=new_postcode, local_authority=new_la,
    )
    Address.objects.create(child=child, address_line="2 Wood Lane", postcode=old_postcode, local_authority=old_la,
                           moved_in_on=date(2019, 6, 1), moved_out_on=today - timedelta(days=60))
    Address.objects.create(child=child, address_line="14 Harbour Road", postcode=new_postcode, local_authority=new_la,
                           moved_in_on=today - timedelta(days=60))
    Involvement.objects.create(child=child, organisation=old_orgs[4], service=services["social-care"],
                               contact_phone=old_orgs[4].contact_phone, started_on=date(2021, 1, 11),
                               ended_on=today - timedelta(days=61), external_id="demo-move-old-social-care")
    Involvement.objects.create(child=child, organisation=old_orgs[0], service=services["school"],
                               contact_phone=old_orgs[0].contact_phone, started_on=date(2020, 9, 1),
                               ended_on=today - timedelta(days=62), external_id="demo-move-old-school")
    Involvement.objects.create(child=child, organisation=new_orgs[4], service=services["social-care"],
                               contact_phone=new_orgs[4].contact_phone, started_on=today - timedelta(days=30),
                               external_id="demo-move-new-social-care")
    return child


def _demo_shielded(authorities, services, today):
    """A child in a refuge placement: address hidden from all but the owning LA admin."""
    la, _, orgs = authorities[2]
    child = Child.objects.filter(nhs_number="4010232137").first()
    if child is not None:
        return child
    child = Child.objects.create(
        given_names="Amelia", family_name="Trelawny", date_of_birth=date(2017, 11, 2), sex=Child.Sex.FEMALE,
        nhs_number="4010232137", address_line="Refuge (address withheld)", postcode="TR1 2HE",
        local_authority=la, shielded=True,
    )
    Address.objects.create(child=child, address_line=child.address_line, postcode=child.postcode, local_authority=la,
                           moved_in_on=today - timedelta(days=40))
    Involvement.objects.create(child=child, organisation=orgs[4], service=services["social-care"],
                               contact_phone=orgs[4].contact_phone, started_on=today - timedelta(days=40),
                               external_id="demo-shielded-social-care")
    return child
