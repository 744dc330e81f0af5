"""Searching, opening a record, recording involvements and moves, and asking to be contacted.

Each function checks permission, writes its audit event and reads or writes in one
transaction: if the event cannot be written, nothing is returned or changed (fail
closed). A refusal is audited in its own transaction, then raised.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone

from audit import services as audit
from audit.context import RequestContext
from audit.models import AccessEvent
from children import identifiers, matching, selectors
from children.matching import Query, SearchOutcome
from children.models import Address, Child, ContactRecipient, ContactRequest, Involvement
from outbox import services as outbox
from practitioners import permissions
from practitioners import services as access
from practitioners.models import Claim, LocalAuthority, Practitioner, Service
from practitioners.permissions import NoGrant, NotVetted, Viewer


def _refuse(*, action: str, context: RequestContext, child=None, reason: str, error: Exception):
    """Record a refusal (committed on its own), then raise ``error``."""
    with transaction.atomic():
        audit.record_event(action=action, context=context, child=child, outcome=AccessEvent.Outcome.DENIED,
                           details={"refused": reason})
    raise error


# Search ------------------------------------------------------------------------------

def search_children(*, query: Query, mode: str = matching.AUTO, context: RequestContext) -> SearchOutcome:
    """Match, then audit the search (a fingerprint of the normalised query, never the query itself,
    the stage that ran, and the children returned: a match is itself a disclosure).

    Raises NotVetted (audited as a denied search).
    """
    if not permissions.may_search(context.user):
        _refuse(action="child.search", context=context, reason="not a vetted practitioner",
                error=NotVetted("Only active, vetted practitioners with a second factor can search."))
    with transaction.atomic():
        outcome = matching.search(query, mode=mode)
        audit.record_event(
            action="child.search", context=context,
            details={
                "query_fingerprint": audit.fingerprint(query.canonical()),
                "mode": outcome.mode,
                "result_count": len(outcome.candidates),
                "matched": outcome.matched,
                "too_many": outcome.too_many,
                "children": outcome.references,  # in ranked order, as listed
            },
            # Every child listed is disclosed (SPEC 3.6, 4): indexed in the same transaction,
            # so "who accessed this record" and a subject access request find the search.
            disclosed_refs=outcome.references,
        )
        return outcome


# The record --------------------------------------------------------------------------

def _child_or_404(reference: str) -> Child | None:
    return Child.objects.active().select_related("local_authority").filter(reference=reference).first()


def _opened(reference: str, context: RequestContext, action: str) -> tuple[Viewer, Child]:
    """The viewer and the child whose record they may open; refusals audited under ``action``.

    Who may open which record is ``practitioners.permissions``' decision (``record_viewer``,
    ``require_may_open_record``). Raises NotVetted, Http404 or NoGrant, none of them reading the record.
    """
    child = _child_or_404(reference)
    try:
        viewer = permissions.record_viewer(context.user)
    except NotVetted as error:
        _refuse(action=action, context=context, child=child, reason="not vetted", error=error)
    if child is None:
        _refuse(action=action, context=context, reason="no such record", error=Http404("No such record."))
    try:
        permissions.require_may_open_record(viewer, child)
    except NoGrant as error:
        _refuse(action=action, context=context, child=child, reason="no live grant", error=error)
    except NotVetted as error:
        _refuse(action=action, context=context, child=child, reason="another area", error=error)
    return viewer, child


def open_record(*, reference: str, context: RequestContext) -> selectors.ChildRecord:
    """Audit the view, then return what this viewer may see.

    Raises NotVetted, Http404 (no such active record) or NoGrant (a vetted practitioner
    without a live grant: offer request access / break-glass); each refusal is audited
    and none reads the record.
    """
    viewer, child = _opened(reference, context, "child.view")
    with transaction.atomic():
        audit.record_event(action="child.view", context=context, child=child)
        grant = None
        if viewer.practitioner is not None and permissions.live_grant_for(viewer.practitioner, child) is not None:
            # The banner says so while a break-glass window is open, whatever else they hold.
            grant = (permissions.live_break_glass_for(viewer.practitioner, child)
                     or permissions.live_grant_for(viewer.practitioner, child))
        return selectors.child_record(child=child, viewer=viewer, grant=grant)


def check_record_access(*, reference: str, context: RequestContext, action: str) -> tuple[Viewer, Child]:
    """For the pages of the record's actions: refuses (audited under ``action``) exactly as the
    action itself would, before the form is shown."""
    return _opened(reference, context, action)


def open_involvement_form(*, reference: str, context: RequestContext) -> Child:
    """For the "record your organisation's involvement" form: refuses (audited) as ``add_involvement``
    would, else audits ``involvement.add.start`` before the page lists the organisation's colleagues."""
    _, child = _opened(reference, context, "involvement.add")
    with transaction.atomic():
        audit.record_event(action="involvement.add.start", context=context, child=child)
    return child


def _own_open_involvement(viewer: Viewer, child: Child, involvement_id: int) -> Involvement:
    row = (Involvement.objects.select_related("organisation", "service")
           .filter(pk=involvement_id, child=child, ended_on__isnull=True).first())
    if row is None or viewer.practitioner is None or row.organisation_id != viewer.practitioner.organisation_id:
        raise Http404("No such involvement of your organisation.")
    return row


def own_open_involvement(*, reference: str, involvement_id: int, context: RequestContext) -> Involvement:
    """One open involvement of the practitioner's own organisation on this record; Http404 otherwise."""
    viewer, child = _opened(reference, context, "involvement.end")
    return _own_open_involvement(viewer, child, involvement_id)


def open_involvement_to_end(*, reference: str, involvement_id: int, context: RequestContext) -> Involvement:
    """``own_open_involvement`` for the end-involvement form, which shows the involvement's service and
    organisation: the read is audited as ``involvement.end.start`` in its transaction."""
    viewer, child = _opened(reference, context, "involvement.end")
    with transaction.atomic():
        row = _own_open_involvement(viewer, child, involvement_id)
        audit.record_event(action="involvement.end.start", context=context, child=child,
                           details={"involvement_id": row.pk, "organisation_id": row.organisation_id})
        return row


def _touch(child: Child):
    Child.objects.filter(pk=child.pk).update(last_activity_at=timezone.now())


# Involvements ------------------------------------------------------------------------

@dataclass(frozen=True)
class NewInvolvement:
    service: Service
    started_on: date
    contact_phone: str = ""
    contact_email: str = ""
    lead_practitioner: Practitioner | None = None


def add_involvement(*, reference: str, involvement: NewInvolvement, context: RequestContext) -> Involvement:
    """Record that the practitioner's own organisation is working with the child.

    When the organisation could already open the record, its access carries on following its open
    involvements (``sync_organisation_access``). Otherwise the involvement is a claim
    (``practitioners.services.record_claims``; route ``break_glass`` under a break-glass window):
    no standing access until the child's LA admin or a system feed confirms it. Audited as
    ``involvement.add`` (and ``grant.claim``). Raises NotVetted, Http404, NoGrant, or ValidationError for
    a service the organisation does not offer, a colleague from elsewhere or bad dates.
    """
    viewer, child = _opened(reference, context, "involvement.add")
    practitioner = viewer.practitioner
    if practitioner is None:
        _refuse(action="involvement.add", context=context, child=child, reason="not a practitioner",
                error=NotVetted("Only practitioners record their organisation's involvement."))
    organisation = practitioner.organisation
    if not selectors.services_offered_by(organisation).filter(pk=involvement.service.pk).exists():
        raise ValidationError({"service": "Choose a service your organisation provides."})
    lead = involvement.lead_practitioner
    if lead is not None and lead.organisation_id != organisation.pk:
        raise ValidationError({"lead_practitioner": "The lead practitioner must work for your organisation."})
    with transaction.atomic():
        row = Involvement(
            child=child, organisation=organisation, service=involvement.service, lead_practitioner=lead,
            contact_phone=involvement.contact_phone, contact_email=involvement.contact_email,
            started_on=involvement.started_on,
        )
        row.full_clean(exclude=["external_id"])
        claimed = not access.organisation_can_open(organisation, [child.pk])
        row.save()
        audit.record_event(action="involvement.add", context=context, child=child,
                           details={"involvement_id": row.pk, "organisation_id": organisation.pk,
                                    "service_id": involvement.service.pk, "claimed": claimed})
        if claimed:  # a person's word, not the organisation's feed: no standing access until confirmed
            break_glass = permissions.live_break_glass_for(practitioner, child)
            access.record_claims(
                involvements=[row], context=context, claimed_by=context.user, break_glass=break_glass,
                route=Claim.Route.BREAK_GLASS if break_glass else Claim.Route.FORM,
                reason=(f"Recorded under break-glass (grant {break_glass.pk})" if break_glass
                        else "Recorded with the add-involvement form"))
        access.sync_organisation_access(opened={(row.organisation_id, row.child_id)}, context=context)
        _touch(child)
        return row


def end_involvement(*, reference: str, involvement_id: int, ended_on: date, context: RequestContext) -> Involvement:
    """End one of the practitioner's own organisation's open involvements; the organisation's access
    ends with its last open involvement on the record (audited as ``involvement.end``). Raises NotVetted, Http404, NoGrant, ValidationError."""
    viewer, child = _opened(reference, context, "involvement.end")
    practitioner = viewer.practitioner
    with transaction.atomic():
        row = Involvement.objects.select_for_update().filter(pk=involvement_id, child=child).first()
        if row is None or practitioner is None or row.organisation_id != practitioner.organisation_id:
            raise Http404("No such involvement of your organisation.")
        if not row.is_open:
            raise ValidationError({"ended_on": "This involvement has already ended."})
        if ended_on > timezone.localdate():
            raise ValidationError({"ended_on": "The end date must be today or in the past."})
        if ended_on < row.started_on:
            raise ValidationError({"ended_on": "The end date cannot be before the start date."})
        row.ended_on = ended_on
        row.save(update_fields=["ended_on"])
        audit.record_event(action="involvement.end", context=context, child=child,
                           details={"involvement_id": row.pk, "organisation_id": row.organisation_id})
        access.sync_organisation_access(closed={(row.organisation_id, row.child_id)}, context=context)
        access.close_claims_of_ended_involvements(involvement_ids=[row.pk], context=context)
        _touch(child)
        return row


# Moves -------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewAddress:
    address_line: str
    postcode: str
    local_authority: LocalAuthority
    moved_in_on: date


def record_move(*, reference: str, address: NewAddress, context: RequestContext) -> Child:
    """Record a new address: the current one is closed, the child's current LA becomes the new
    one (whose practitioners and admins then see the whole history), audited as ``child.move``.
    Moving the child to another local authority needs standing access (``permissions.has_standing_access``:
    not break-glass, claimed or personal access); refused (audited) otherwise.
    Raises NotVetted, Http404, NoGrant, ValidationError."""
    viewer, child = _opened(reference, context, "child.move")
    if address.local_authority.pk != child.local_authority_id and not permissions.has_standing_access(viewer, child):
        _refuse(action="child.move", context=context, child=child, reason="no standing access",
                error=ValidationError({"local_authority": "You cannot move this child to another local authority: "
                                       "only the child's local authority, or an organisation confirmed as working "
                                       "with the child, can. Contact the child's local authority."}))
    postcode = identifiers.normalise_postcode(address.postcode)
    if not postcode:
        raise ValidationError({"postcode": "Enter a real UK postcode, like SW1A 1AA."})
    if address.moved_in_on > timezone.localdate():
        raise ValidationError({"moved_in_on": "The date of the move must be today or in the past."})
    with transaction.atomic():
        child = Child.objects.select_for_update().get(pk=child.pk)
        current = list(Address.objects.filter(child=child, moved_out_on__isnull=True))
        if any(a.moved_in_on > address.moved_in_on for a in current):
            raise ValidationError({"moved_in_on": "The move must be after the child moved into their current address."})
        from_authority = child.local_authority_id
        Address.objects.filter(pk__in=[a.pk for a in current]).update(moved_out_on=address.moved_in_on)
        Address.objects.create(child=child, address_line=address.address_line, postcode=postcode,
                               local_authority=address.local_authority, moved_in_on=address.moved_in_on)
        child.address_line, child.postcode = address.address_line, postcode
        child.local_authority = address.local_authority
        child.last_activity_at = timezone.now()
        child.save()
        audit.record_event(action="child.move", context=context, child=child,
                           details={"from_local_authority_id": from_authority,
                                    "to_local_authority_id": address.local_authority.pk})
        return child


# Contact, not disclosure (SPEC 3.8) ----------------------------------------------------

CONTACT_REQUEST_LIMIT = 3  # per practitioner and child ...
CONTACT_REQUEST_WINDOW = timedelta(hours=24)  # ... in this window


def _contactable(reference: str, context: RequestContext, action: str) -> tuple[Practitioner, Child]:
    """The requester and the child. Anyone ``may_search`` may ask about any active child they found,
    grant or not (asking discloses nothing); refusals audited under ``action``. Raises NotVetted, Http404."""
    child = _child_or_404(reference)
    if not permissions.may_search(context.user):
        _refuse(action=action, context=context, child=child, reason="not vetted",
                error=NotVetted("Only active, vetted practitioners with a second factor can ask to be contacted."))
    if child is None:
        _refuse(action=action, context=context, reason="no such record", error=Http404("No such record."))
    return permissions.practitioner_of(context.user), child


def open_contact_form(*, reference: str, context: RequestContext) -> Child:
    """For the "ask the services to contact you" form: refuses (audited) as ``send_contact_request``
    would, else audits ``contact.start``: the page confirms that the reference is an active record."""
    _, child = _contactable(reference, context, "contact.request")
    with transaction.atomic():
        audit.record_event(action="contact.start", context=context, child=child)
    return child


def send_contact_request(*, reference: str, reason: str, context: RequestContext) -> ContactRequest:
    """Email "please contact me about this child" to every open involvement's contact route
    (``selectors.contact_routes``: a sensitive service's goes to the child's LA safeguarding
    contact), record where it went, and audit ``contact.request``, in one transaction; the emails
    go last, so without the audit event none is sent, and if the mail server refuses one nothing
    is recorded (an email it took before that has still left).

    Raises NotVetted or Http404 (audited), ValidationError for a reason not on the list, and
    ValidationError (audited as denied) past ``CONTACT_REQUEST_LIMIT`` requests for the child in
    ``CONTACT_REQUEST_WINDOW``.
    """
    requester, child = _contactable(reference, context, "contact.request")
    if reason not in ContactRequest.Reason.values:
        raise ValidationError({"reason": "Choose why you want the services to contact you."})
    with transaction.atomic():
        Child.objects.select_for_update().filter(pk=child.pk).first()  # two requests at once count one by one
        since = timezone.now() - CONTACT_REQUEST_WINDOW
        if ContactRequest.objects.filter(requester=requester, child=child, created_at__gte=since).count() \
                < CONTACT_REQUEST_LIMIT:
            request = ContactRequest.objects.create(requester=requester, child=child, reason=reason)
            routes = selectors.contact_routes(child)
            ContactRecipient.objects.bulk_create([
                ContactRecipient(request=request, involvement_id=r.involvement_id, route=r.route, method=r.method,
                                 local_authority_id=r.local_authority_id) for r in routes])
            emails = _contact_emails(request, routes)
            audit.record_event(action="contact.request", context=context, child=child,
                               details={"contact_request_id": request.pk, "reason": reason,
                                        "emails": len(emails), "routes": len(routes)})
            for email in emails:  # queued in this transaction, sent after it commits: no audit event, no email
                outbox.queue(email, kind="contact_request")
            return request
    _refuse(action="contact.request", context=context, child=child, reason="rate limit",
            error=ValidationError({"reason": f"You have already sent {CONTACT_REQUEST_LIMIT} requests about this "
                                             "child in the last 24 hours. The services have them: wait for them to "
                                             "contact you, or call the child's local authority if it is urgent."}))


def _contact_emails(request: ContactRequest, routes: list[selectors.ContactRoute]) -> list[EmailMessage]:
    """One email per address; the LA safeguarding team's also lists the phone-only services to call."""
    relayed = [r for r in routes if r.method == ContactRecipient.Method.RELAYED]
    addresses = dict.fromkeys(r.route for r in routes if r.method == ContactRecipient.Method.EMAIL)
    safeguarding = selectors.email_address(request.child.local_authority.safeguarding_contact)
    if relayed:
        addresses[safeguarding] = None
    requester = request.requester
    subject = f"Signpost: please contact a practitioner about child {request.child.reference}"
    via_safeguarding = [r for r in routes if r.local_authority_id is not None]
    return [
        EmailMessage(subject, render_to_string("children/email/contact_request.txt", {
            "request": request, "requester": requester, "name": requester.user.get_full_name(),
            "email": requester.work_email or requester.user.email,
            "safeguarding": address == safeguarding, "local_authority": request.child.local_authority,
            "relayed": relayed, "sensitive": any(r.involvement_id for r in via_safeguarding),
            "no_service": any(r.involvement_id is None for r in via_safeguarding),
        }), settings.DEFAULT_FROM_EMAIL, [address])
        for address in addresses
    ]
