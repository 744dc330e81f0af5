"""A small, coherent demo world a user can believe: three local authorities, their
organisations (valid team emails) and services, named practitioners of each role, ~200
children whose involvements name a lead practitioner, and one child of each kind a
demo should show: moved area, shielded, seen by a sensitive service, with an access
request waiting for a decision, and with a break-glass use waiting for review.
Deterministic for a seed and idempotent: it looks everything up by a stable key before
creating it (and mends rows an older demo wrote without names or with invalid emails).
"""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from faker import Faker

from audit import services as audit
from audit.context import RequestContext
from children import identifiers
from children.models import Address, Child, ChildName, Involvement
from practitioners import roles
from practitioners.models import (
    AccessGrant,
    AccessRequest,
    LocalAuthority,
    LocalAuthorityAdmin,
    Organisation,
    Practitioner,
    Service,
)
from practitioners.services import grant_access, sync_organisation_access

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
# Demo logins' names, by the login's role key, one per local authority in AUTHORITIES' order.
LOGIN_NAMES = {
    "social": [("Grace", "Adeyemi"), ("Imran", "Hussain"), ("Tamsin", "Rowe")],
    "nurse": [("Sophie", "Nguyen"), ("Rachel", "Firth"), ("Kerenza", "Pascoe")],
    "teacher": [("Daniel", "Okoro"), ("Helen", "Brierley"), ("Morwenna", "Hicks")],
    "admin": [("Mark", "Ellison"), ("Asha", "Patel"), ("Jory", "Trevithick")],
}
AUDITOR_NAME = ("Fiona", "Marsh")
# Lead practitioners (no demo login) for the organisations no demo login works in: index into
# ORGANISATIONS -> job title and one name per local authority.
LEADS = {
    1: ("Head of year", [("James", "Whitfield"), ("Nadia", "Rahman"), ("Loveday", "Curnow")]),
    2: ("GP", [("Anil", "Mehta"), ("Claire", "Sutcliffe"), ("Peder", "Jago")]),
    5: ("Youth justice officer", [("Kwame", "Asante"), ("Liam", "Doyle"), ("Demelza", "Rowse")]),
}
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
    sensitive_child: Child | None = None
    requested_child: Child | None = None
    break_glass_child: Child | None = None


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


def team_email(organisation_suffix: str, gss_code: str) -> str:
    """A valid address for an organisation's team: ``childrens-social-care@e06000052.example.org``."""
    slug = "-".join("".join(c for c in word.lower() if c.isalnum()) for word in organisation_suffix.split())
    return f"{slug}@{gss_code.lower()}.example.org"


def with_nhs_check_digit(first_nine: str) -> str:
    return first_nine + str(identifiers.nhs_check_digit(first_nine))


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
            email = team_email(suffix, gss)
            org, created = Organisation.objects.get_or_create(
                local_authority=la, name=f"{name} {suffix}",
                defaults={"kind": kind, "contact_phone": fake.phone_number(), "contact_email": email},
            )
            if created:
                org.services.set([services[c] for c in codes])
            elif org.contact_email != email:  # an older demo's address (``team@children's...``) was invalid
                Involvement.objects.filter(organisation=org, contact_email=org.contact_email).update(contact_email=email)
                org.contact_email = email
                org.save(update_fields=["contact_email"])
            orgs.append(org)
        authorities.append((la, districts, orgs))

    slug = {la.gss_code: la.name.split()[0].lower() for la, _, _ in authorities}
    leads = {}  # organisation id -> its lead practitioner, named on its involvements
    for n, (la, _, orgs) in enumerate(authorities):
        key = slug[la.gss_code]
        for role_key, org_index, title in (("social", 4, "Social worker"), ("nurse", 3, "School nurse"),
                                           ("teacher", 0, "Designated safeguarding lead")):
            user = _demo_user(world, f"{key}.{role_key}", groups[roles.PRACTITIONER], la, orgs[org_index], title,
                              seed, today, name=LOGIN_NAMES[role_key][n])
            leads[orgs[org_index].pk] = user.practitioner
        admin = _demo_user(world, f"{key}.admin", groups[roles.LA_ADMIN], la, None, "LA admin", seed, today,
                           name=LOGIN_NAMES["admin"][n])
        LocalAuthorityAdmin.objects.get_or_create(user=admin, local_authority=la)
        for org_index, (title, names) in LEADS.items():
            leads[orgs[org_index].pk] = _demo_lead(orgs[org_index], title, names[n], groups[roles.PRACTITIONER], today)
    _demo_user(world, "auditor", groups[roles.AUDITOR], authorities[0][0], None, "Auditor", seed, today,
               name=AUDITOR_NAME)

    for la, districts, orgs in authorities:
        for i in range(children_per_authority):
            child = _demo_child(rng, fake, la, districts, orgs, services, today)
            world.children += 1
            world.involvements += child.involvements.count()

    world.moved_child = _demo_move(rng, authorities, services, today)
    world.shielded_child = _demo_shielded(authorities, services, today)
    world.sensitive_child = _demo_sensitive(authorities, services, today)
    world.requested_child = _demo_access_requested(authorities, services, today)
    world.break_glass_child = _demo_break_glass_used(authorities, services, today)
    # Every demo involvement names its organisation's lead (older demos named nobody).
    for organisation_id, lead in leads.items():
        Involvement.objects.filter(organisation_id=organisation_id, lead_practitioner=None,
                                   external_id__startswith="demo-").update(lead_practitioner=lead)
    # Organisations' access follows their open involvements, as it does for involvements added
    # through the app.
    sync_organisation_access(opened=Involvement.objects.open().values_list("organisation_id", "child_id"),
                             context=RequestContext.system("seed_demo"))
    return world


def _demo_user(world, username, group, la, organisation, title, seed, today, *, name):
    User = get_user_model()
    first, last = name
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    elif (user.first_name, user.last_name) != name:  # older demos called them "Leeds Worker"
        User.objects.filter(pk=user.pk).update(first_name=first, last_name=last)
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


def _demo_lead(organisation, title, name, group, today):
    """A named practitioner without a demo login, to lead their organisation's involvements."""
    User = get_user_model()
    first, last = name
    local_part = organisation.contact_email.split("@")[0]
    gss = organisation.local_authority.gss_code.lower()
    email = f"{first}.{last}@{gss}.example.org".lower()
    user, created = User.objects.get_or_create(
        username=f"lead.{local_part}.{gss}", defaults={"first_name": first, "last_name": last, "email": email})
    if created:
        user.set_unusable_password()  # a name on the record, not a demo login
        user.save()
    user.groups.add(group)
    practitioner, _ = Practitioner.objects.get_or_create(user=user, defaults={
        "organisation": organisation, "job_title": title, "work_email": email,
        "work_phone": organisation.contact_phone, "vetting_checked_on": today - timedelta(days=300),
        "vetting_expires_on": today + timedelta(days=800), "training_completed_on": today - timedelta(days=150),
        "status": Practitioner.Status.ACTIVE, "approved_at": timezone.now(),
    })
    return practitioner


def _named_child(*, nhs, given, family, dob, sex, address_line, postcode, la, moved_in_on, involvements):
    """A child the demo's walkthroughs rely on, created once (found again by NHS number).
    ``involvements``: (organisation, service, started_on, external_id) each, open."""
    child = Child.objects.filter(nhs_number=nhs).first()
    if child is not None:
        return child
    child = Child.objects.create(given_names=given, family_name=family, date_of_birth=dob, sex=sex, nhs_number=nhs,
                                 address_line=address_line, postcode=postcode, local_authority=la)
    Address.objects.create(child=child, address_line=address_line, postcode=postcode, local_authority=la,
                           moved_in_on=moved_in_on)
    for organisation, service, started_on, external_id in involvements:
        Involvement.objects.create(child=child, organisation=organisation, service=service, started_on=started_on,
                                   contact_phone=organisation.contact_phone, contact_email=organisation.contact_email,
                                   external_id=external_id)
    return child


def _demo_sensitive(authorities, services, today):
    """A child seen by a sensitive service (CAMHS): others see only that one is involved."""
    la, _, orgs = authorities[2]
    return _named_child(
        nhs=with_nhs_check_digit("943476602"), given="Maisie", family="Pengelly", dob=date(2010, 6, 14),
        sex=Child.Sex.FEMALE, address_line="7 Trevithick Road", postcode="TR14 8PA", la=la,
        moved_in_on=date(2016, 8, 1), involvements=[
            (orgs[3], services["camhs"], today - timedelta(days=120), "demo-sensitive-camhs"),
            (orgs[1], services["school"], date(2021, 9, 1), "demo-sensitive-school"),
        ])


def _demo_access_requested(authorities, services, today):
    """A Leeds child whom a Hammersmith school nurse has asked to see: waiting for Leeds's LA admin."""
    la, _, orgs = authorities[1]
    child = _named_child(
        nhs=with_nhs_check_digit("943476603"), given="Oliver", family="Mensah", dob=date(2013, 2, 17),
        sex=Child.Sex.MALE, address_line="31 Harehills Lane", postcode="LS8 4HQ", la=la,
        moved_in_on=date(2018, 4, 3), involvements=[
            (orgs[0], services["school"], date(2017, 9, 4), "demo-requested-school"),
        ])
    nurse = Practitioner.objects.get(user__username="hammersmith.nurse")
    if not AccessRequest.objects.filter(practitioner=nurse, child=child).exists():
        AccessRequest.objects.create(
            practitioner=nurse, child=child, requested_at=timezone.now() - timedelta(hours=3),
            reason="Oliver is staying with his aunt in Hammersmith and came to our drop-in twice this week. "
                   "I need to know who his school nurse is in Leeds.")
        audit.record_event(action="access_request.create", context=RequestContext(user=nurse.user), child=child,
                           details={"seeded_by": "seed_demo"})
    return child


def _demo_break_glass_used(authorities, services, today):
    """A Hammersmith child whose record a Leeds social worker opened by break-glass: awaiting review."""
    la, _, orgs = authorities[0]
    child = _named_child(
        nhs=with_nhs_check_digit("943476604"), given="Tomasz", family="Wiśniewski", dob=date(2012, 9, 30),
        sex=Child.Sex.MALE, address_line="48 Bramber Road", postcode="W14 9PG", la=la,
        moved_in_on=date(2019, 1, 14), involvements=[
            (orgs[4], services["social-care"], today - timedelta(days=200), "demo-break-glass-social-care"),
        ])
    social = Practitioner.objects.get(user__username="leeds.social")
    if not AccessGrant.objects.filter(practitioner=social, child=child, source=AccessGrant.Source.BREAK_GLASS).exists():
        grant_access(
            practitioner=social, child=child, source=AccessGrant.Source.BREAK_GLASS,
            reason="Tomasz was brought to Leeds A&E overnight by an adult who is not his parent; I need his "
                   "allocated social worker now.",
            expires_at=timezone.now() + settings.BREAK_GLASS_WINDOW, context=RequestContext(user=social.user))
    return child
