"""Reads for the child record: plain data, masked for the viewer. Nothing here writes or audits;
``services.open_record`` audits the view and then calls ``child_record``."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from children.models import Address, Child, ChildName, ContactRecipient, Involvement
from practitioners.models import AccessGrant, Practitioner, Service
from practitioners import permissions
from practitioners.permissions import Viewer

SENSITIVE_MESSAGE = "A sensitive service is involved — contact {authority} safeguarding: {contact}"


@dataclass(frozen=True)
class InvolvementRow:
    id: int
    is_current: bool
    masked: bool
    message: str = ""
    organisation: str = ""
    organisation_area: str = ""
    service: str = ""
    lead_name: str = ""
    lead_job_title: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    started_on: date | None = None
    ended_on: date | None = None
    last_confirmed_at: datetime | None = None
    is_own: bool = False  # the viewer's organisation: they may end it


@dataclass(frozen=True)
class AddressRow:
    local_authority: str
    postcode_district: str
    moved_in_on: date
    moved_out_on: date | None
    is_current: bool


@dataclass(frozen=True)
class OtherName:
    kind: str
    name: str


@dataclass
class ChildRecord:
    reference: str
    given_names: str
    family_name: str
    date_of_birth: date | None
    sex: str
    nhs_number: str
    upn: str
    la_child_id: str
    local_authority: str
    out_of_hours_phone: str
    shielded: bool
    location_visible: bool  # LA, postcode areas, involved organisations, LA phone (permissions.sees_shielded_location)
    address_visible: bool = True  # the address itself: a shielded child's only to the owning LA admin
    safeguarding_contact: str = ""  # whom to call about a shielded child whose location is withheld
    involvements_withheld: bool = False  # others' involvements left out: they would give the location away
    address_line: str = ""
    postcode: str = ""
    other_names: list[OtherName] = field(default_factory=list)
    addresses: list[AddressRow] = field(default_factory=list)
    current_involvements: list[InvolvementRow] = field(default_factory=list)
    previous_involvements: list[InvolvementRow] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)  # every LA the child has lived in, oldest first
    may_add_involvement: bool = False
    may_ask_for_contact: bool = False  # a practitioner (not an LA admin only): services.send_contact_request
    live_grant: AccessGrant | None = None  # the viewer's own grant, if any: the page flags break-glass

    @property
    def full_name(self) -> str:
        return f"{self.given_names} {self.family_name}".strip()

    @property
    def identity_incomplete(self) -> bool:
        """The source sent no date of birth, or no given or family name (``Child.identity_incomplete``)."""
        return self.date_of_birth is None or not self.given_names.strip() or not self.family_name.strip()

    @property
    def moved_area(self) -> bool:
        return len(self.areas) > 1


def child_record(*, child: Child, viewer: Viewer, grant: AccessGrant | None = None) -> ChildRecord:
    """Everything this viewer may see of the record. Sensitive involvements are masked for
    anyone outside the organisation that delivers them; a shielded child's address and
    address history only reach the owning LA admin. ``grant`` is the viewer's live grant
    (``permissions.live_grant_for``), kept for the break-glass banner."""
    standing = permissions.has_standing_access(viewer, child)
    location_visible = not child.shielded or standing
    address_visible = permissions.sees_shielded_address(viewer, child)
    authority = child.local_authority
    record = ChildRecord(
        reference=child.reference, given_names=child.given_names, family_name=child.family_name,
        date_of_birth=child.date_of_birth, sex=child.get_sex_display(), nhs_number=child.nhs_number or "",
        upn=child.upn or "", la_child_id=child.la_child_id,
        local_authority=authority.name if location_visible else "",
        out_of_hours_phone=authority.out_of_hours_phone if location_visible else "", shielded=child.shielded,
        location_visible=location_visible, address_visible=address_visible,
        safeguarding_contact=authority.safeguarding_contact,
        may_add_involvement=viewer.practitioner is not None, live_grant=grant,
        may_ask_for_contact=viewer.practitioner is not None,
    )
    if address_visible:
        record.address_line, record.postcode = child.address_line, child.postcode
    record.other_names = [
        OtherName(kind=name.get_kind_display(), name=f"{name.given_names} {name.family_name}")
        for name in ChildName.objects.filter(child=child).exclude(kind=ChildName.Kind.CURRENT).order_by("kind", "pk")
    ]
    addresses = list(Address.objects.filter(child=child).select_related("local_authority"))
    areas = []
    for address in sorted(addresses, key=lambda a: (a.moved_in_on, a.pk)):
        if address.local_authority.name not in areas:
            areas.append(address.local_authority.name)
    if child.local_authority.name not in areas:
        areas.append(child.local_authority.name)
    if location_visible:
        record.areas = areas
        record.addresses = [
            AddressRow(local_authority=a.local_authority.name, postcode_district=a.postcode.split(" ")[0],
                       moved_in_on=a.moved_in_on, moved_out_on=a.moved_out_on, is_current=a.moved_out_on is None)
            for a in addresses
        ]
    elif not child.shielded:
        record.areas = [child.local_authority.name]
    involvements = list(
        Involvement.objects.filter(child=child)
        .select_related("organisation__local_authority", "service", "lead_practitioner__user")
        .order_by("-started_on", "-pk")
    )
    # Current first (latest start first), then previous (latest end first).
    if not location_visible:
        # Who works with a shielded child says where the child is: only the viewer's own organisation's.
        record.involvements_withheld = any(i.organisation_id != viewer.organisation_id for i in involvements)
        involvements = [i for i in involvements if i.organisation_id == viewer.organisation_id]
    record.current_involvements = [involvement_row(i, viewer) for i in involvements if i.is_open]
    ended = sorted((i for i in involvements if not i.is_open), key=lambda i: (i.ended_on, i.pk), reverse=True)
    record.previous_involvements = [involvement_row(i, viewer) for i in ended]
    return record


def involvement_row(involvement: Involvement, viewer: Viewer) -> InvolvementRow:
    is_own = viewer.organisation_id is not None and involvement.organisation_id == viewer.organisation_id
    area = involvement.organisation.local_authority
    if involvement.service.sensitive and not is_own:
        return InvolvementRow(
            id=involvement.pk, is_current=involvement.is_open, masked=True,
            message=SENSITIVE_MESSAGE.format(authority=area.name, contact=area.safeguarding_contact),
        )
    lead = involvement.lead_practitioner
    return InvolvementRow(
        id=involvement.pk, is_current=involvement.is_open, masked=False,
        organisation=involvement.organisation.name, organisation_area=area.name, service=involvement.service.name,
        lead_name=lead.user.get_full_name() if lead else "", lead_job_title=lead.job_title if lead else "",
        contact_phone=involvement.contact_phone, contact_email=involvement.contact_email,
        started_on=involvement.started_on, ended_on=involvement.ended_on,
        last_confirmed_at=involvement.last_confirmed_at, is_own=is_own,
    )


def services_offered_by(organisation):
    """The services an organisation may record involvements for (all, if none are configured)."""
    offered = organisation.services.all()
    return offered if offered.exists() else Service.objects.all()


def colleagues_of(practitioner: Practitioner):
    return Practitioner.objects.active().filter(organisation=practitioner.organisation).select_related("user")


# Contact, not disclosure (SPEC 3.8) ----------------------------------------------------

@dataclass(frozen=True)
class ContactRoute:
    """Where a contact request about a child goes for one open involvement (or for the child's
    LA when none is open). ``method`` is a ``ContactRecipient.Method``; ``via_safeguarding``
    routes are the child's LA safeguarding contact, standing in for a sensitive service."""

    method: str
    route: str
    involvement_id: int | None = None
    local_authority_id: int | None = None
    organisation: str = ""  # for a phone-only service listed in the LA's email; never a sensitive one
    service: str = ""


def email_address(value: str) -> str:
    """``value`` when it is an email address, else "" (an LA's safeguarding contact may be a phone number)."""
    value = (value or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value


def contact_routes(child: Child) -> list[ContactRoute]:
    """Each open involvement's contact route: its own email, else its organisation's; a phone-only
    one is listed for the child's LA safeguarding team to call. A sensitive service's involvement
    goes to that safeguarding contact instead, as does a child with no open involvement."""
    method = ContactRecipient.Method
    authority = child.local_authority
    safeguarding = email_address(authority.safeguarding_contact)

    def via_safeguarding(involvement_id=None) -> ContactRoute:
        return ContactRoute(method=method.EMAIL if safeguarding else method.CALL,
                            route=safeguarding or authority.safeguarding_contact,
                            involvement_id=involvement_id, local_authority_id=authority.pk)

    routes = []
    for involvement in child.involvements.open().select_related("organisation", "service").order_by("pk"):
        organisation = involvement.organisation
        if involvement.service.sensitive:
            routes.append(via_safeguarding(involvement.pk))
            continue
        email = email_address(involvement.contact_email) or email_address(organisation.contact_email)
        if email:
            routes.append(ContactRoute(method=method.EMAIL, route=email, involvement_id=involvement.pk))
            continue
        routes.append(ContactRoute(method=method.RELAYED if safeguarding else method.CALL,
                                   route=involvement.contact_phone or organisation.contact_phone,
                                   involvement_id=involvement.pk, organisation=organisation.name,
                                   service=involvement.service.name))
    return routes or [via_safeguarding()]


# Next steps when a search finds nobody ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FrontDoor:
    """A local authority's routes in for a child Signpost does not hold: its safeguarding front door
    (children's services contact point) and its out-of-hours duty number."""

    name: str
    contact: str
    out_of_hours_phone: str

    @classmethod
    def of(cls, authority) -> "FrontDoor":
        return cls(authority.name, authority.safeguarding_contact, authority.out_of_hours_phone)

    @property
    def contact_is_email(self) -> bool:
        try:
            validate_email(self.contact)
        except ValidationError:
            return False
        return True


@dataclass(frozen=True)
class NextSteps:
    postcode_district: str = ""
    for_postcode: FrontDoor | None = None  # the LA that serves the searched postcode district, when known
    own: FrontDoor | None = None  # the searcher's own LA
    every: list[FrontDoor] = field(default_factory=list)


def next_steps_when_unmatched(*, postcode: str, practitioner: Practitioner) -> NextSteps:
    """Where to turn when no child matched. The LA for a postcode district is the one most children
    recorded there belong to (shielded children are never counted): district-level and public
    knowledge, so it discloses no child."""
    from django.db.models import Count

    from children.identifiers import postcode_district
    from practitioners.models import LocalAuthority

    district = postcode_district(postcode or "")
    found = None
    if district:
        row = (Child.objects.active().filter(postcode_district=district, shielded=False)
               .values("local_authority").annotate(n=Count("id")).order_by("-n", "local_authority").first())
        if row:
            found = LocalAuthority.objects.filter(pk=row["local_authority"]).first()
    own = practitioner.organisation.local_authority
    return NextSteps(postcode_district=district, for_postcode=FrontDoor.of(found) if found else None,
                     own=FrontDoor.of(own), every=[FrontDoor.of(la) for la in LocalAuthority.objects.order_by("name")])
