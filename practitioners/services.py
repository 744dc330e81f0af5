"""Writes about access: each function checks, audits and writes in one transaction.

Two kinds of access to a child's record (``practitioners.permissions`` reads both):

- an organisation's, while it has an open involvement with the child: guardian's group
  permission for the organisation's ``access_group`` (``sync_organisation_access``), one
  row per organisation and child however many practitioners it has;
- a practitioner's own grant (approved access request, break-glass): the pair (AccessGrant
  row, guardian user permission), with a reason and an expiry.
"""

import secrets
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm
from rest_framework.authtoken.models import Token

from audit import services as audit
from audit.context import RequestContext
from children.models import Child, Involvement
from practitioners import permissions, roles
from practitioners.models import (
    AccessGrant,
    AccessRequest,
    ChildGroupObjectPermission,
    Organisation,
    Practitioner,
    PractitionerStatusChange,
    UserSession,
)
from signpost import locks

VIEW_CHILD_CODENAME = "view_child"


@transaction.atomic
def grant_access(
    *,
    practitioner: Practitioner,
    child,
    source: str,
    reason: str,
    expires_at,
    context: RequestContext,
    granted_by=None,
    involvement=None,
    audit_action: str | None = None,
) -> AccessGrant:
    """Create a grant and its guardian permission; audits ``grant.<source>``."""
    grant = AccessGrant.objects.create(
        practitioner=practitioner, child=child, source=source, reason=reason, expires_at=expires_at,
        granted_by=granted_by, involvement=involvement,
    )
    assign_perm(VIEW_CHILD_CODENAME, practitioner.user, child)
    audit.record_event(
        action=audit_action or f"grant.{source}", context=context, child=child, reason=reason,
        details={"grant_id": grant.pk, "practitioner_id": practitioner.pk, "expires_at": expires_at.isoformat()},
    )
    return grant


@transaction.atomic
def revoke_grant(*, grant: AccessGrant, context: RequestContext, reason: str, now=None) -> bool:
    """Revoke one grant (idempotent: False if it was already revoked). Audits ``grant.revoke``.

    The guardian permission goes only when no other live grant for the same child remains.
    """
    now = now or timezone.now()
    if not AccessGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(revoked_at=now):
        return False
    _drop_permission_unless_other_grants(grant.practitioner, grant.child, now=now)
    audit.record_event(
        action="grant.revoke", context=context, child=grant.child, reason=reason,
        details={"grant_id": grant.pk, "practitioner_id": grant.practitioner_id, "source": grant.source},
    )
    return True


def _drop_permission_unless_other_grants(practitioner, child, *, now):
    if not AccessGrant.objects.live(now=now).filter(practitioner=practitioner, child=child).exists():
        remove_perm(VIEW_CHILD_CODENAME, practitioner.user, child)


@dataclass(frozen=True)
class AccessChange:
    """What ``sync_organisation_access`` changed: (organisation id, child id) pairs."""

    granted: frozenset = frozenset()
    ended: frozenset = frozenset()

    def __len__(self) -> int:
        return len(self.granted) + len(self.ended)


def _view_child_permission() -> Permission:
    return Permission.objects.get(content_type__app_label="children", codename=VIEW_CHILD_CODENAME)


def access_groups(organisation_ids) -> dict[int, int]:
    """{organisation id: access group id}, creating the group of any organisation without one yet."""
    groups = dict(Organisation.objects.filter(pk__in=set(organisation_ids)).values_list("pk", "access_group_id"))
    for organisation_id in [o for o, g in groups.items() if g is None]:
        group, _ = Group.objects.get_or_create(name=f"organisation-{organisation_id}-access")
        Organisation.objects.filter(pk=organisation_id, access_group__isnull=True).update(access_group=group)
        groups[organisation_id] = Organisation.objects.values_list("access_group_id", flat=True).get(
            pk=organisation_id)
    return groups


@transaction.atomic
def sync_organisation_access(*, opened=(), closed=(), context: RequestContext,
                             audit_each: bool = True) -> AccessChange:
    """Make organisations' access follow their involvements (SPEC 2: a practitioner may open the
    record of a child their own organisation has an open involvement with).

    Pairs are (organisation id, child id). ``opened``: pairs that may have gained an open
    involvement (one added, or re-opened); the organisation's guardian group permission on the
    child is added if it has an open involvement and lacks it. ``closed``: pairs that may have
    lost one (ended, moved to another record by a merge); the permission goes if no open
    involvement is left. Both are checked against the involvements, never assumed: idempotent,
    and safe beside a concurrent sync of the same pairs (``ON CONFLICT DO NOTHING``).

    One statement per organisation and direction whatever the number of pairs, so a feed batch of
    1,000 rows costs little more than one involvement: no model instances; on PostgreSQL the child
    ids go as one array and each is looked up through the indexes (``LATERAL``), a plan that stays
    linear in the batch even before the planner's statistics have caught up with a large first feed.

    Audits ``grant.organisation`` / ``grant.organisation_end`` per change, unless ``audit_each``
    is False: a feed batch counts them in its own ``feed.bulk`` event instead, and each involvement
    behind them has its change history.
    """
    todo = [(_GRANT_SQL, _by_organisation(opened)), (_END_SQL, _by_organisation(closed))]
    if not any(by_organisation for _, by_organisation in todo):
        return AccessChange()
    groups = access_groups({o for _, by_organisation in todo for o in by_organisation})
    permission_id = _view_child_permission().pk
    changed: list[set] = [set(), set()]
    for organisation_id in sorted(groups):  # one order everywhere: no deadlock
        locks.hold(_organisation_access_lock(organisation_id))
    with connection.cursor() as cursor:
        for (sql, by_organisation), done in zip(todo, changed):
            for organisation_id, child_ids in sorted(by_organisation.items()):
                for start in range(0, len(child_ids), _CHUNK):
                    ids, params = _ids(child_ids[start:start + _CHUNK])
                    cursor.execute(sql[connection.vendor == "postgresql"].format(ids=ids),
                                   [*params, groups[organisation_id], permission_id, organisation_id])
                    done |= {(organisation_id, child_id) for (child_id,) in cursor.fetchall()}
    granted, ended = changed
    if audit_each and (granted or ended):
        children = Child.objects.only("reference", "local_authority_id", "shielded").in_bulk(
            {c for _, c in granted | ended})
        audit.record_events(context=context, events=[
            {"action": action, "child": children[c], "details": {"organisation_id": o}}
            for action, pairs in (("grant.organisation", granted), ("grant.organisation_end", ended))
            for o, c in sorted(pairs)])
    return AccessChange(granted=frozenset(granted), ended=frozenset(ended))


def _organisation_access_lock(organisation_id: int) -> str:
    """The name of the lock that serialises changes to one organisation's access, held to commit.

    Without it, ending one involvement could delete the permission just after a concurrent
    transaction, adding another open involvement, found it present and left it (each blind to
    the other's uncommitted involvement). Holding the lock, the second sync runs after the first
    commits and sees its involvements.
    """
    return f"signpost.organisation-access:{organisation_id}"


def organisation_access_lock_key(organisation_id: int) -> int:
    return locks.advisory_key(_organisation_access_lock(organisation_id))


def _by_organisation(pairs) -> dict[int, list[int]]:
    grouped: dict[int, set[int]] = {}
    for organisation_id, child_id in pairs:
        grouped.setdefault(organisation_id, set()).add(child_id)
    return {o: sorted(c) for o, c in grouped.items()}


# Parameters of every statement: the child ids ({ids}), then group id, permission id, organisation id.
# Each is a pair: (SQLite, PostgreSQL).
_PERMISSION = ChildGroupObjectPermission._meta.db_table
_INVOLVEMENT = Involvement._meta.db_table
_PARAMS = "(SELECT %s AS group_id, %s AS permission_id, %s AS organisation_id) AS g"
_OPEN = f"""SELECT 1 AS found FROM {_INVOLVEMENT} i
    WHERE i.child_id = ids.id AND i.organisation_id = g.organisation_id AND i.ended_on IS NULL"""
_HELD = f"""SELECT h.id FROM {_PERMISSION} h
    WHERE h.group_id = g.group_id AND h.permission_id = g.permission_id AND h.content_object_id = ids.id"""
# The organisation's permission on each child it has an open involvement with...
_GRANT_SQL = (
    f"""INSERT INTO {_PERMISSION} (group_id, permission_id, content_object_id)
    SELECT g.group_id, g.permission_id, ids.id FROM ({{ids}}) AS ids CROSS JOIN {_PARAMS}
    WHERE EXISTS ({_OPEN})
    ON CONFLICT DO NOTHING RETURNING content_object_id""",
    f"""INSERT INTO {_PERMISSION} (group_id, permission_id, content_object_id)
    SELECT g.group_id, g.permission_id, ids.id FROM ({{ids}}) AS ids CROSS JOIN {_PARAMS}
    CROSS JOIN LATERAL ({_OPEN} LIMIT 1) AS open_involvement
    ON CONFLICT DO NOTHING RETURNING content_object_id""",
)
# ... and off each child it has none with any more.
_END_SQL = (
    f"""DELETE FROM {_PERMISSION} WHERE id IN (
        SELECT h.id FROM ({{ids}}) AS ids CROSS JOIN {_PARAMS}
        JOIN {_PERMISSION} h ON h.group_id = g.group_id AND h.permission_id = g.permission_id
                                AND h.content_object_id = ids.id
        WHERE NOT EXISTS ({_OPEN}))
    RETURNING content_object_id""",
    f"""DELETE FROM {_PERMISSION} WHERE id IN (
        SELECT held.id FROM ({{ids}}) AS ids CROSS JOIN {_PARAMS}
        CROSS JOIN LATERAL ({_HELD} LIMIT 1) AS held  -- at most one (unique); LIMIT keeps it a per-id probe
        LEFT JOIN LATERAL ({_OPEN} LIMIT 1) AS open_involvement ON true
        WHERE open_involvement.found IS NULL)
    RETURNING content_object_id""",
)
_CHUNK = 5000  # ids per statement: well under SQLite's limit on placeholders


def _ids(ids) -> tuple[str, list]:
    """A one-column (``id``) subquery of ``ids`` for raw SQL, and its parameters: one array on
    PostgreSQL (psycopg need not parse 1,000 placeholders), a VALUES list elsewhere."""
    if connection.vendor == "postgresql":
        return "SELECT unnest(%s::bigint[]) AS id", [list(ids)]
    return f"SELECT column1 AS id FROM (VALUES {', '.join(['(%s)'] * len(ids))})", list(ids)


def involvement_access_pairs(involvements) -> set[tuple[int, int]]:
    return {(i.organisation_id, i.child_id) for i in involvements}


# --- Practitioner lifecycle -------------------------------------------------------------

class LifecycleError(ValidationError):
    """A transition that the practitioner's current status or dates do not allow."""


def _new_account(*, username, password, first_name, last_name, email, organisation, job_title, work_phone,
                 work_email, changed_by, reason) -> Practitioner:
    """A user in the Practitioner role and its ``pending`` practitioner, with the first status change."""
    user = get_user_model().objects.create_user(
        username=username, password=password, first_name=first_name, last_name=last_name, email=email,
    )
    user.groups.add(Group.objects.get_or_create(name=roles.PRACTITIONER)[0])
    practitioner = Practitioner.objects.create(
        user=user, organisation=organisation, job_title=job_title, work_phone=work_phone,
        work_email=work_email, status=Practitioner.Status.PENDING,
    )
    PractitionerStatusChange.objects.create(practitioner=practitioner, from_status="",
                                            to_status=Practitioner.Status.PENDING,
                                            changed_by=changed_by or user, reason=reason)
    return practitioner


def new_username(*, first_name: str, last_name: str) -> str:
    """An unused username made by Signpost: ``first.last.1234`` in plain ASCII letters and digits.

    Registrants do not choose usernames, so the public sign-up form never says whether one is taken
    (issue 17: choosing one and being told "taken" revealed who has an account)."""
    import unicodedata

    def plain(text: str) -> str:
        folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii").lower()
        return "".join(c for c in folded if c.isalnum())[:20]

    stem = ".".join(part for part in (plain(first_name), plain(last_name)) if part) or "user"
    users = get_user_model().objects
    for digits in (4, 4, 4, 6, 6, 8):
        candidate = f"{stem}.{secrets.randbelow(10 ** digits):0{digits}d}"
        if not users.filter(username__iexact=candidate).exists():
            return candidate
    return f"{stem}.{secrets.token_hex(8)}"


def register_practitioner(
    *, password: str, first_name: str, last_name: str, email: str, organisation,
    job_title: str, work_phone: str, work_email: str, context: RequestContext,
) -> Practitioner:
    """Self-registration: a user with a username Signpost chooses (``new_username``) and a ``pending``
    practitioner in the Practitioner role.

    The account can sign in and set up its second factor, but sees no child until an LA
    admin of its organisation's area approves it. Audits ``practitioner.register``.
    """
    username = new_username(first_name=first_name, last_name=last_name)
    with transaction.atomic():
        practitioner = _new_account(
            username=username, password=password, first_name=first_name, last_name=last_name, email=email,
            organisation=organisation, job_title=job_title, work_phone=work_phone, work_email=work_email,
            changed_by=None, reason="Registered through Signpost; waiting for LA admin approval.")
        audit.record_event(
            action="practitioner.register", context=context, actor=practitioner.user,
            details={"practitioner_id": practitioner.pk, "organisation_id": organisation.pk},
        )
    return practitioner


@transaction.atomic
def create_practitioner_account(
    *, username: str, first_name: str, last_name: str, email: str, organisation, job_title: str, work_phone: str,
    vetting_checked_on, vetting_expires_on, training_completed_on, context: RequestContext,
) -> Practitioner:
    """An LA admin creates an approved account for a practitioner of an organisation in their area.

    The password is random and known to nobody: the practitioner sets their own through the
    emailed link (``send_set_password_email``), then enrols their authenticator at first sign-in.
    Raises PermissionDenied (not an LA admin of the organisation's area) or LifecycleError
    (vetting or training not current). Audits ``practitioner.create``, then ``practitioner.approve``.
    """
    if context.user is None or not permissions.administers(context.user, organisation.local_authority):
        raise PermissionDenied("Only an LA admin of the organisation's local authority can create its accounts.")
    practitioner = _new_account(
        username=username, password=secrets.token_urlsafe(32), first_name=first_name, last_name=last_name,
        email=email, organisation=organisation, job_title=job_title, work_phone=work_phone, work_email=email,
        changed_by=context.user, reason="Account created by an LA admin.")
    audit.record_event(action="practitioner.create", context=context,
                       details={"practitioner_id": practitioner.pk, "organisation_id": organisation.pk})
    return approve_practitioner(
        practitioner=practitioner, vetting_checked_on=vetting_checked_on, vetting_expires_on=vetting_expires_on,
        training_completed_on=training_completed_on, context=context, reason="Vetting and training checked when the "
        "account was created.")


def send_username_email(*, practitioner: Practitioner) -> None:
    """Tell a new registrant the username Signpost chose for them."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    user = practitioner.user
    body = render_to_string("practitioners/email/registered.txt", {"user": user, "practitioner": practitioner})
    send_mail("Your Signpost username", body, settings.DEFAULT_FROM_EMAIL, [user.email])


def send_set_password_email(*, practitioner: Practitioner, site_url: str) -> None:
    """Email a new account's owner a link to set their password (Django's reset token: it works once,
    for ``PASSWORD_RESET_TIMEOUT``; after that "Forgotten your password?" sends another)."""
    from django.contrib.auth.tokens import default_token_generator
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user = practitioner.user
    link = site_url.rstrip("/") + reverse("password_reset_confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)})
    body = render_to_string("practitioners/email/new_account.txt", {"user": user, "link": link,
                                                                   "practitioner": practitioner})
    send_mail("Your Signpost account", body, settings.DEFAULT_FROM_EMAIL, [user.email])


def _check_credentials(*, vetting_checked_on, vetting_expires_on, training_completed_on, today) -> None:
    """Raises LifecycleError keyed by field unless vetting and training are both current on ``today``."""
    errors = {}
    if vetting_checked_on is None or vetting_checked_on > today:
        errors["vetting_checked_on"] = "Enter the date of the vetting check: today or in the past."
    if vetting_expires_on is None or vetting_expires_on < today:
        errors["vetting_expires_on"] = "The vetting check has expired: it must be current to give access."
    elif vetting_checked_on and vetting_expires_on <= vetting_checked_on:
        errors["vetting_expires_on"] = "The vetting expiry must be after the date of the check."
    if training_completed_on is None or training_completed_on > today:
        errors["training_completed_on"] = "Enter the date training was completed: today or in the past."
    elif training_completed_on + settings.TRAINING_VALID_FOR < today:
        errors["training_completed_on"] = "That training is out of date: it must be renewed to give access."
    if errors:
        raise LifecycleError(errors)


def _locked(practitioner: Practitioner) -> Practitioner:
    return Practitioner.objects.select_for_update().select_related("user", "organisation").get(pk=practitioner.pk)


def _transition(practitioner: Practitioner, *, to_status: str, reason: str, by, now) -> None:
    PractitionerStatusChange.objects.create(
        practitioner=practitioner, from_status=practitioner.status, to_status=to_status, changed_by=by,
        changed_at=now, reason=reason,
    )
    practitioner.status = to_status


def end_sessions_and_tokens(*, user) -> int:
    """Sign ``user`` out everywhere: every recorded session and every API token. Returns sessions ended."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    UserSession.objects.filter(user=user).delete()
    Token.objects.filter(user=user).delete()
    return len(keys)


def end_api_tokens(*, user, reason: str) -> int:
    """Delete every DRF token of ``user``; audits ``token.revoke_all`` when there were any."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        audit.record_event(action="token.revoke_all", context=RequestContext.system("signpost"), actor=user,
                           reason=reason, details={"tokens": deleted})
    return deleted


def _bar(practitioner: Practitioner, *, to_status: str, reason: str, context: RequestContext, now) -> dict:
    """Suspend or expire: revoke every live grant, end every session and token, in this transaction."""
    _transition(practitioner, to_status=to_status, reason=reason, by=context.user if _is_user(context.user) else None,
                now=now)
    practitioner.save(update_fields=["status"])
    revoked = 0
    for grant in AccessGrant.objects.live(now=now).filter(practitioner=practitioner).select_related(
        "practitioner__user", "child"
    ):
        revoked += revoke_grant(grant=grant, context=context, reason=f"Practitioner {to_status}", now=now)
    tokens = Token.objects.filter(user=practitioner.user).count()
    sessions = end_sessions_and_tokens(user=practitioner.user)
    return {"grants_revoked": revoked, "sessions_ended": sessions, "tokens_deleted": tokens}


def _is_user(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


@transaction.atomic
def approve_practitioner(
    *, practitioner: Practitioner, vetting_checked_on, vetting_expires_on, training_completed_on,
    context: RequestContext, reason: str = "", now=None,
) -> Practitioner:
    """An LA admin of the practitioner's LA approves a pending account once vetting and training are current.

    Raises PermissionDenied (other LA / not an LA admin) or LifecycleError. From then on they
    open the records of children their organisation is involved with (that access is the
    organisation's: nothing to grant here). Audits ``practitioner.approve``.
    """
    now = now or timezone.now()
    permissions.require_administers_practitioner(context.user, practitioner)
    practitioner = _locked(practitioner)
    if practitioner.status != Practitioner.Status.PENDING:
        raise LifecycleError(f"Only a pending account can be approved; this one is {practitioner.get_status_display().lower()}.")
    _check_credentials(vetting_checked_on=vetting_checked_on, vetting_expires_on=vetting_expires_on,
                       training_completed_on=training_completed_on, today=timezone.localdate(now))
    practitioner.vetting_checked_on = vetting_checked_on
    practitioner.vetting_expires_on = vetting_expires_on
    practitioner.training_completed_on = training_completed_on
    _transition(practitioner, to_status=Practitioner.Status.ACTIVE, reason=reason or "Vetting and training checked.",
                by=context.user, now=now)
    practitioner.approved_by = context.user
    practitioner.approved_at = now
    practitioner.save()
    audit.record_event(
        action="practitioner.approve", context=context, reason=reason,
        details={"practitioner_id": practitioner.pk, "vetting_expires_on": vetting_expires_on.isoformat(),
                 "training_completed_on": training_completed_on.isoformat()},
    )
    return practitioner


@transaction.atomic
def update_vetting_and_training(
    *, practitioner: Practitioner, vetting_checked_on, vetting_expires_on, training_completed_on,
    context: RequestContext,
) -> Practitioner:
    """Record renewed vetting and training dates (any status). Audits ``practitioner.credentials``.

    Dates in the past are allowed here (they are facts); only approval and reinstatement
    demand that they are current.
    """
    permissions.require_administers_practitioner(context.user, practitioner)
    practitioner = _locked(practitioner)
    errors = {}
    today = timezone.localdate()
    if vetting_checked_on and vetting_checked_on > today:
        errors["vetting_checked_on"] = "The vetting check date cannot be in the future."
    if vetting_checked_on and vetting_expires_on and vetting_expires_on <= vetting_checked_on:
        errors["vetting_expires_on"] = "The vetting expiry must be after the date of the check."
    if training_completed_on and training_completed_on > today:
        errors["training_completed_on"] = "The training date cannot be in the future."
    if errors:
        raise LifecycleError(errors)
    practitioner.vetting_checked_on = vetting_checked_on
    practitioner.vetting_expires_on = vetting_expires_on
    practitioner.training_completed_on = training_completed_on
    practitioner.save(update_fields=["vetting_checked_on", "vetting_expires_on", "training_completed_on"])
    audit.record_event(
        action="practitioner.credentials", context=context,
        details={"practitioner_id": practitioner.pk,
                 "vetting_expires_on": vetting_expires_on.isoformat() if vetting_expires_on else None,
                 "training_completed_on": training_completed_on.isoformat() if training_completed_on else None},
    )
    return practitioner


@transaction.atomic
def suspend_practitioner(*, practitioner: Practitioner, reason: str, context: RequestContext, now=None) -> Practitioner:
    """Suspend with a reason: grants revoked, every session and API token ended at once (SPEC 8).

    Raises PermissionDenied or LifecycleError. Audits ``practitioner.suspend``.
    """
    now = now or timezone.now()
    permissions.require_administers_practitioner(context.user, practitioner)
    if not reason.strip():
        raise LifecycleError({"reason": "Enter the reason for suspending this account."})
    practitioner = _locked(practitioner)
    if practitioner.status == Practitioner.Status.SUSPENDED:
        raise LifecycleError("This account is already suspended.")
    ended = _bar(practitioner, to_status=Practitioner.Status.SUSPENDED, reason=reason, context=context, now=now)
    audit.record_event(action="practitioner.suspend", context=context, reason=reason,
                       details={"practitioner_id": practitioner.pk, **ended})
    return practitioner


@transaction.atomic
def reinstate_practitioner(
    *, practitioner: Practitioner, reason: str, context: RequestContext, vetting_checked_on=None,
    vetting_expires_on=None, training_completed_on=None, now=None,
) -> Practitioner:
    """Make a suspended or expired account active again; vetting and training must be current.

    New dates may be given in the same step. Their organisation's involvements open records to
    them again at once; personal grants revoked by the suspension stay revoked. Raises PermissionDenied or LifecycleError. Audits ``practitioner.reinstate``.
    """
    now = now or timezone.now()
    permissions.require_administers_practitioner(context.user, practitioner)
    if not reason.strip():
        raise LifecycleError({"reason": "Enter the reason for reinstating this account."})
    practitioner = _locked(practitioner)
    if practitioner.status not in permissions.BARRED:
        raise LifecycleError("Only a suspended or expired account can be reinstated.")
    practitioner.vetting_checked_on = vetting_checked_on or practitioner.vetting_checked_on
    practitioner.vetting_expires_on = vetting_expires_on or practitioner.vetting_expires_on
    practitioner.training_completed_on = training_completed_on or practitioner.training_completed_on
    _check_credentials(vetting_checked_on=practitioner.vetting_checked_on,
                       vetting_expires_on=practitioner.vetting_expires_on,
                       training_completed_on=practitioner.training_completed_on, today=timezone.localdate(now))
    _transition(practitioner, to_status=Practitioner.Status.ACTIVE, reason=reason, by=context.user, now=now)
    practitioner.save()
    audit.record_event(action="practitioner.reinstate", context=context, reason=reason,
                       details={"practitioner_id": practitioner.pk})
    return practitioner


@transaction.atomic
def expire_practitioner(*, practitioner: Practitioner, context: RequestContext, now=None,
                        reason: str = "Vetting or training is no longer current.",
                        details: dict | None = None) -> dict | None:
    """Vetting or training lapsed: status ``expired``, grants revoked, sessions and tokens ended.

    Idempotent: None when the practitioner is no longer active or is current again; else the
    counts of what was ended. Audits ``practitioner.expire`` (``details`` are added to it).
    The housekeeping job (``practitioners.expiry``) calls this once per lapsed practitioner.
    """
    now = now or timezone.now()
    practitioner = _locked(practitioner)
    if practitioner.status != Practitioner.Status.ACTIVE or practitioner.credentials_current(timezone.localdate(now)):
        return None
    ended = _bar(practitioner, to_status=Practitioner.Status.EXPIRED, reason=reason, context=context, now=now)
    audit.record_event(action="practitioner.expire", context=context, reason=reason,
                       details={"practitioner_id": practitioner.pk, **(details or {}), **ended})
    return ended


# --- Access requests and break-glass ----------------------------------------------------

def _clean_reason(reason: str, *, minimum: int, field: str = "reason") -> str:
    reason = (reason or "").replace("\x00", "").strip()
    if len(reason) < minimum:
        raise ValidationError({field: f"Give the reason in at least {minimum} characters."})
    return reason


@transaction.atomic
def request_access(*, practitioner: Practitioner, child, reason: str, context: RequestContext) -> AccessRequest:
    """A vetted practitioner without a grant asks the child's LA admin for access.

    Raises NotVetted, or ValidationError (reason too short, already has access, a request
    is already waiting). Audits ``access_request.create``.
    """
    if practitioner is None or not permissions.may_search(practitioner.user):
        raise permissions.NotVetted("Only active, vetted practitioners can request access.")
    reason = _clean_reason(reason, minimum=settings.ACCESS_REQUEST_REASON_MIN_LENGTH)
    if permissions.may_open_child(practitioner, child):
        raise ValidationError("You can already open this record.")
    # Lock the practitioner so two clicks can't file two requests.
    Practitioner.objects.select_for_update().filter(pk=practitioner.pk).first()
    if AccessRequest.objects.filter(practitioner=practitioner, child=child, status=AccessRequest.Status.OPEN).exists():
        raise ValidationError("You have already asked for access to this record; it is waiting for a decision.")
    access_request = AccessRequest.objects.create(practitioner=practitioner, child=child, reason=reason)
    audit.record_event(action="access_request.create", context=context, child=child, reason=reason,
                       details={"access_request_id": access_request.pk})
    return access_request


def _locked_open_request(access_request: AccessRequest) -> AccessRequest:
    locked = AccessRequest.objects.select_for_update().select_related("child", "practitioner__user").get(
        pk=access_request.pk)
    if locked.status != AccessRequest.Status.OPEN:
        raise ValidationError(f"This request has already been decided ({locked.get_status_display().lower()}).")
    return locked


@transaction.atomic
def approve_access_request(
    *, access_request: AccessRequest, expires_at, context: RequestContext, note: str = "", now=None,
) -> AccessGrant:
    """An LA admin of the child's current LA grants access until ``expires_at``.

    Raises PermissionDenied (not that LA's admin) or ValidationError. Audits
    ``access_request.approve`` and (through grant_access) ``grant.access_request``.
    """
    now = now or timezone.now()
    permissions.require_decides_for_child(context.user, access_request.child)
    access_request = _locked_open_request(access_request)
    if expires_at <= now:
        raise ValidationError({"expires_on": "The access must end in the future."})
    if timezone.localdate(expires_at) > timezone.localdate(now + settings.ACCESS_GRANT_MAX_DURATION):
        raise ValidationError({"expires_on": f"Access can be given for at most {settings.ACCESS_GRANT_MAX_DURATION.days} days."})
    if access_request.practitioner.status != Practitioner.Status.ACTIVE:
        raise ValidationError("This practitioner's account is not active, so access cannot be given.")
    grant = grant_access(
        practitioner=access_request.practitioner, child=access_request.child,
        source=AccessGrant.Source.ACCESS_REQUEST, reason=access_request.reason, expires_at=expires_at,
        context=context, granted_by=context.user,
    )
    access_request.status = AccessRequest.Status.APPROVED
    access_request.decided_by = context.user
    access_request.decided_at = now
    access_request.decision_reason = note.strip()
    access_request.grant = grant
    access_request.save()
    audit.record_event(action="access_request.approve", context=context, child=access_request.child, reason=note,
                       details={"access_request_id": access_request.pk, "grant_id": grant.pk,
                                "practitioner_id": access_request.practitioner_id,
                                "expires_at": expires_at.isoformat()})
    return grant


@transaction.atomic
def refuse_access_request(*, access_request: AccessRequest, reason: str, context: RequestContext, now=None
                          ) -> AccessRequest:
    """An LA admin of the child's current LA refuses, with a reason the practitioner sees.

    Raises PermissionDenied or ValidationError. Audits ``access_request.refuse``.
    """
    now = now or timezone.now()
    permissions.require_decides_for_child(context.user, access_request.child)
    reason = _clean_reason(reason, minimum=1, field="refusal_reason")
    access_request = _locked_open_request(access_request)
    access_request.status = AccessRequest.Status.REFUSED
    access_request.decided_by = context.user
    access_request.decided_at = now
    access_request.decision_reason = reason
    access_request.save()
    audit.record_event(action="access_request.refuse", context=context, child=access_request.child, reason=reason,
                       details={"access_request_id": access_request.pk,
                                "practitioner_id": access_request.practitioner_id})
    return access_request


@transaction.atomic
def break_glass(*, practitioner: Practitioner, child, reason: str, context: RequestContext, now=None) -> AccessGrant:
    """Emergency access without a grant: a typed reason, for ``BREAK_GLASS_WINDOW``.

    Flagged for auditors (the ``grant.break_glass`` event) and for the child's LA admins
    (an unreviewed break-glass grant). Raises NotVetted or ValidationError.
    """
    now = now or timezone.now()
    permissions.require_may_break_glass(practitioner, child)
    reason = _clean_reason(reason, minimum=settings.BREAK_GLASS_REASON_MIN_LENGTH)
    return grant_access(
        practitioner=practitioner, child=child, source=AccessGrant.Source.BREAK_GLASS, reason=reason,
        expires_at=now + settings.BREAK_GLASS_WINDOW, context=context, granted_by=practitioner.user,
    )


@transaction.atomic
def review_break_glass(*, grant: AccessGrant, outcome: str, comment: str, context: RequestContext, now=None
                       ) -> AccessGrant:
    """An LA admin of the child's LA records whether a break-glass use was justified.

    Raises PermissionDenied or ValidationError (not break-glass, already reviewed).
    Audits ``break_glass.review``.
    """
    now = now or timezone.now()
    permissions.require_decides_for_child(context.user, grant.child)
    if grant.source != AccessGrant.Source.BREAK_GLASS:
        raise ValidationError("Only break-glass uses are reviewed.")
    if outcome not in AccessGrant.ReviewOutcome.values:
        raise ValidationError({"outcome": "Choose whether the use was justified."})
    comment = (comment or "").replace("\x00", "").strip()
    if outcome == AccessGrant.ReviewOutcome.NOT_JUSTIFIED and not comment:
        raise ValidationError({"comment": "Say what follow-up is needed when a use was not justified."})
    if not AccessGrant.objects.filter(pk=grant.pk, reviewed_at__isnull=True).update(
        reviewed_at=now, reviewed_by=context.user, review_outcome=outcome, review_comment=comment,
    ):
        raise ValidationError("This use has already been reviewed.")
    grant.refresh_from_db()
    audit.record_event(action="break_glass.review", context=context, child=grant.child, reason=comment,
                       details={"grant_id": grant.pk, "practitioner_id": grant.practitioner_id, "outcome": outcome})
    return grant


# --- Sign-in events ---------------------------------------------------------------------

@transaction.atomic
def record_login_success(*, user, session_key: str | None, second_factor: bool, context: RequestContext) -> None:
    """A completed sign-in: remember the session, where from and on what (so suspension can end it and
    the user can see it on "Your sessions"). Audits ``login.success``."""
    if session_key:
        UserSession.objects.update_or_create(session_key=session_key, defaults={
            "user": user, "ip_address": context.ip_address, "user_agent": (context.user_agent or "")[:300],
            "started_at": timezone.now(), "last_seen_at": timezone.now()})
    audit.record_event(action="login.success", context=context, actor=user,
                       details={"second_factor": second_factor})


@transaction.atomic
def record_login_failure(*, username: str, stage: str, context: RequestContext, throttled: bool = False) -> None:
    """A wrong password (stage ``password``) or wrong code (``second_factor``, ``recovery_code``).
    Audits ``login.failure``; counts it against the account from every address, and audits
    ``login.account_locked`` when this failure reaches ``LOGIN_ACCOUNT_FAILURE_LIMIT``."""
    from practitioners import throttles

    user = get_user_model().objects.filter(username=username).first() if username else None
    details = {"username": (username or "")[:150], "stage": stage}
    if throttled:  # django-otp refused the code without checking it (its back-off after wrong codes)
        details["throttled"] = True
    audit.record_event(action="login.failure", context=context, actor=user, outcome="denied", details=details)
    locked_until = throttles.count_sign_in_failure(username)
    if locked_until is not None:
        audit.record_event(action="login.account_locked", context=context, actor=user, outcome="denied",
                           details={"username": (username or "")[:150], "until": locked_until.isoformat(),
                                    "limit": settings.LOGIN_ACCOUNT_FAILURE_LIMIT})


@transaction.atomic
def record_lockout(*, username: str, context: RequestContext, scope: str = "address") -> None:
    """A sign-in refused without checking the password: too many failures from this username and
    address (``scope`` "address", django-axes) or for the account from every address ("account").
    Audits ``login.lockout``."""
    user = get_user_model().objects.filter(username=username).first() if username else None
    audit.record_event(action="login.lockout", context=context, actor=user, outcome="denied",
                       details={"username": (username or "")[:150], "scope": scope})


@transaction.atomic
def clear_sign_in_lockout(*, practitioner: Practitioner, context: RequestContext) -> dict:
    """An LA admin of the practitioner's area lets them sign in again at once: the account's failures
    (every address), django-axes' per-address records and django-otp's wrong-code back-off are cleared.
    Raises PermissionDenied for anyone else. Audits ``login.lockout.clear`` with what was cleared."""
    from axes.models import AccessAttempt
    from django_otp import devices_for_user

    from practitioners.models import SignInFailure

    if context.user is None or not permissions.administers(context.user, practitioner.organisation.local_authority):
        raise PermissionDenied("Only an LA admin of the practitioner's local authority can clear their lockout.")
    user = practitioner.user
    failures, _ = SignInFailure.objects.filter(username=user.get_username()[:150]).delete()
    addresses, _ = AccessAttempt.objects.filter(username=user.get_username()).delete()
    devices = 0
    for device in devices_for_user(user, confirmed=None):
        if getattr(device, "throttling_failure_count", 0):
            device.throttle_reset(commit=True)
            devices += 1
    cleared = {"practitioner_id": practitioner.pk, "failures": failures, "address_records": addresses,
               "devices": devices}
    audit.record_event(action="login.lockout.clear", context=context, actor=context.user, details=cleared)
    return cleared


@transaction.atomic
def record_search_refusal(*, context: RequestContext, period: str, limit: int) -> None:
    """A search refused because the practitioner is over ``SEARCH_RATE_PER_MINUTE`` or ``_PER_DAY``.
    Audits ``child.search.refused`` (nothing was searched, so no query fingerprint)."""
    audit.record_event(action="child.search.refused", context=context, outcome="denied",
                       details={"period": period, "limit": limit})


@transaction.atomic
def record_api_token_refusal(*, context: RequestContext, reason: str, failures: int, throttled: bool) -> None:
    """A practitioner API token that matched no live token. Audits ``api.token.refused``."""
    audit.record_event(action="api.token.refused", context=context, outcome="denied", reason=reason,
                       details={"failures": failures, "throttled": throttled})


@transaction.atomic
def record_logout(*, user, session_key: str | None, context: RequestContext) -> None:
    """Signed out: forget the session. Audits ``logout``."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()
    if user is not None and getattr(user, "is_authenticated", False):
        audit.record_event(action="logout", context=context, actor=user)


@transaction.atomic
def end_own_session(*, session_id: int, current_key: str | None, context: RequestContext) -> None:
    """The signed-in user ends another of their own sessions (another device or browser).

    Raises UserSession.DoesNotExist for a session that is not theirs (the view answers 404, as for
    none at all) and ValidationError for the session making the request (use "Sign out").
    Audits ``session.end``.
    """
    user = context.user
    row = UserSession.objects.select_for_update().get(pk=session_id, user_id=getattr(user, "pk", None))
    if current_key and row.session_key == current_key:
        raise ValidationError("This is the session you are using now: sign out instead.")
    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore
    SessionStore(session_key=row.session_key).delete()
    audit.record_event(action="session.end", context=context, details={"session_id": row.pk})
    row.delete()


def note_session_seen(*, session_key: str, now) -> None:
    """When the session was last used, for "Your sessions" (written at most once a minute)."""
    UserSession.objects.filter(session_key=session_key).update(last_seen_at=now)


@transaction.atomic
def record_session_expired(*, user, session_key: str | None, why: str, context: RequestContext) -> None:
    """A session reached its absolute lifetime (``SESSION_ABSOLUTE_LIFETIME``) and was ended.
    Audits ``session.expired``."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()
    audit.record_event(action="session.expired", context=context, actor=user, details={"why": why})


@transaction.atomic
def record_password_reset_request(*, matched: int, context: RequestContext) -> None:
    """Someone asked for a reset link; ``matched``: how many accounts were emailed (0 for an unknown
    address: the page says the same either way). Audits ``password.reset.request``."""
    audit.record_event(action="password.reset.request", context=context, details={"accounts_emailed": matched})


def record_password_reset(*, user, context: RequestContext) -> None:
    """A reset link was used to set a new password. Audits ``password.reset`` as that user."""
    audit.record_event(action="password.reset", context=context, actor=user)


def record_refusal(*, context: RequestContext, why: str, path: str) -> None:
    """A signed-in user was refused a page (wrong role, not vetted, suspended). Audits ``access.refused``."""
    audit.record_event(action="access.refused", context=context, outcome="denied",
                       details={"why": why, "path": path[:300]})


@transaction.atomic
def record_page_view(*, action: str, context: RequestContext, child=None, details: dict | None = None) -> None:
    """A page that shows people's details (console lists, request queues) was viewed."""
    audit.record_event(action=action, context=context, child=child, details=details)
