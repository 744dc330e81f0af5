"""Audit action names: what each means to an auditor, and which ones the anomaly view watches.

Actions are namespaced verbs (``child.view``). Services elsewhere choose their own;
an action missing here still shows in the log under its raw name, and
tests/signpost/test_audit_words.py fails until it has a label.
"""

import re
from datetime import date, datetime

from django.utils import timezone

LABELS = {
    # Sign-in events are written by practitioners.services (record_login_success etc.).
    "login.success": "Signed in",
    "logout": "Signed out",
    "login.failure": "Sign-in failed",
    "login.lockout": "Locked out after repeated failures",
    "password.reset.request": "Asked for a password reset link",
    "password.reset": "Set a new password with a reset link",
    "child.search": "Searched for a child",
    "child.view": "Opened a child's record",
    "grant.involvement": "Access granted: own organisation involved",  # per practitioner, before 2026-11-26
    "grant.organisation": "Organisation given access: involved with the child",
    "grant.organisation_end": "Organisation's access ended: no open involvement left",
    "grant.access_request": "Access granted: request approved",
    "grant.break_glass": "Break-glass access",
    "grant.revoke": "Access revoked",
    "grant.claim": "Relationship claimed (time-boxed until confirmed)",
    "grant.end": "LA admin ended an access grant",
    "claim.confirm": "Claimed relationship confirmed",
    "claim.lapse": "Claimed relationship lapsed unconfirmed",
    "claim.end": "LA admin ended a claimed relationship",
    "practitioner.data_manager.grant": "Gave the data manager duty",
    "practitioner.data_manager.remove": "Removed the data manager duty",
    "console.claims": "Viewed claimed relationships",
    "console.claim": "Opened a claimed relationship",
    "console.grants": "Viewed live access in the area",
    "console.grant": "Opened an access grant to end it",
    "console.data_manager_form": "Opened the data manager form",
    "admin.view": "Used the Django admin",
    "audit.events.view": "Viewed the audit log",
    "audit.events.export": "Exported the audit log",
    "audit.child_report": "Produced a who-accessed-this-record report",
    "audit.child_report.export": "Downloaded a who-accessed-this-record report",
    "audit.anomalies.view": "Viewed anomalies",
    "audit.anomaly.open": "Opened an anomaly to review",
    "audit.anomaly.review": "Marked an anomaly reviewed",
    "audit.console.refused": "Refused entry to the audit console",
    "audit.chain_broken": "Audit chain check found a break",
    "access.refused": "Refused a page",
    "child.move": "Recorded a move",
    "involvement.add.start": "Opened the add-involvement form",
    "involvement.add": "Recorded an involvement",
    "involvement.end.start": "Opened the end-involvement form",
    "involvement.end": "Ended an involvement",
    "contact.start": "Opened the ask-to-be-contacted form",
    "contact.request": "Asked the services working with a child to make contact",
    "access_request.start": "Opened the request-access form",
    "access_request.create": "Requested access",
    "access_request.approve": "Approved an access request",
    "access_request.refuse": "Refused an access request",
    "access_request.list_own": "Viewed own access requests",
    "break_glass.start": "Opened the break-glass form",
    "break_glass.review": "Reviewed a break-glass use",
    "practitioner.register": "Registered as a practitioner",
    "practitioner.create": "Created a practitioner account",
    "practitioner.approve": "Approved a practitioner",
    "practitioner.credentials": "Updated vetting or training dates",
    "practitioner.suspend": "Suspended a practitioner",
    "practitioner.reinstate": "Reinstated a practitioner",
    "practitioner.expire": "Practitioner's access expired",
    "console.home": "Opened the LA admin console",
    "console.practitioners": "Listed practitioners",
    "console.practitioner": "Viewed a practitioner",
    "console.access_requests": "Viewed the access-request queue",
    "console.access_request": "Opened an access request",
    "console.break_glass": "Viewed break-glass uses",
    "console.break_glass_use": "Opened a break-glass use",
    "second_factor.enrol": "Set up a second factor",
    "second_factor.recovery_codes": "Created new recovery codes",
    "second_factor.reset": "Reset a practitioner's authenticator (lost phone)",
    "console.reset_authenticator_form": "Opened the reset-authenticator form",
    "housekeeping.expire_records": "Deleted stale records",
    "feed.bulk": "Received a feed batch",
    "token.revoke_all": "API tokens ended (password changed)",
    # Throttles and sessions (issue 17).
    "login.account_locked": "Account locked after repeated sign-in failures",
    "login.lockout.clear": "Cleared a practitioner's sign-in lockout",
    "child.search.refused": "Search refused: search limit reached",
    "api.token.refused": "Refused a practitioner's API token",
    "session.list": "Viewed own sessions",
    "session.end": "Ended one of own sessions",
    "session.expired": "Session ended: too long since sign-in",
    # LA admin console: the form pages before each account change.
    "console.approve_form": "Opened the approve-account form",
    "console.suspend_form": "Opened the suspend-account form",
    "console.reinstate_form": "Opened the reinstate-account form",
    "console.vetting_form": "Opened the vetting and training dates form",
    # Data feeds (feeds app): the hub, tokens, the review queue, merges, uploads.
    "feed.hub.view": "Opened the data feeds page",
    "feed.token.list": "Listed API tokens",
    "feed.token.view": "Viewed an API token",
    "feed.token.issue": "Issued an API token",
    "feed.token.rotate": "Replaced an API token",
    "feed.token.revoke": "Revoked an API token",
    "feed.token.revoke_rotated": "Old API token ended after replacement",
    "feed.token.refused": "Refused an API token",
    "feed.review.list": "Listed rows waiting for a match decision",
    "feed.review.view": "Opened a row waiting for a match decision",
    "feed.review.same_child": "Matched a feed row to an existing child",
    "feed.review.new_child": "Recorded a feed row as a new child",
    "feed.quality.view": "Viewed the data quality report",
    "feed.csv.form": "Opened the upload form",
    "feed.csv.template": "Downloaded the upload template",
    "feed.csv.upload": "Uploaded a CSV of involvements",
    "feed.csv.view": "Viewed an upload",
    "feed.csv.status": "Checked an upload's progress",
    "feed.csv.errors": "Downloaded an upload's errors",
    "feed.csv.commit": "Saved an upload's rows",
    "feed.csv.discard": "Discarded an upload",
    "child.merge": "Merged two records",
    "child.unmerge": "Undid a merge",
    "child.merge.list": "Listed merged records",
    "child.merge.form": "Opened the merge form",
    "child.merge.preview": "Checked a merge before making it",
}

BREAK_GLASS_ACTIONS = ("grant.break_glass",)
CLAIM_ACTIONS = ("grant.claim",)  # a person's claim to work with a child their organisation could not open
SEARCH_ACTIONS = ("child.search",)


def label(action: str) -> str:
    return LABELS.get(action, action)


def choices() -> list[tuple[str, str]]:
    return sorted(LABELS.items(), key=lambda item: item[1])


# Event details in plain words ---------------------------------------------------------------------------------------
# Details are stored as the service wrote them (ids, ISO timestamps); an auditor reads them through describe().

DETAIL_LABELS = {
    "practitioner_id": "Practitioner", "organisation_id": "Organisation", "grant_id": "Access grant",
    "access_request_id": "Access request", "involvement_id": "Involvement", "review_id": "Review",
    "upload_id": "Upload", "token_id": "API token", "merge_id": "Merge", "batch_id": "Feed batch",
    "object_id": "Record changed", "query_fingerprint": "Search fingerprint", "mode": "Search stage",
    "result_count": "Children found", "matched": "Matched", "too_many": "Too many to list",
    "children": "Children", "expires_at": "Access until", "since": "From", "until": "To",
    "kind": "Kind", "anomaly": "Anomaly", "why": "Why", "path": "Page", "method": "Request",
    "view": "Admin page", "refused": "Refused because", "second_factor": "Second factor", "stage": "Stage",
    "source": "Source", "status": "Status", "outcome": "Outcome", "tokens": "API tokens ended",
    "lapsed": "Lapsed", "into": "Merged into", "involvements": "Involvements", "months": "Months",
    "bytes": "Size (bytes)", "accounts_emailed": "Accounts emailed", "username": "Username tried",
    "filter": "Filter", "form": "Form",
}
VALUE_WORDS = {
    "mode": {"plain": "Exact names and dates", "fuzzy": "Including similar names and dates",
             "identifier": "NHS number or UPN"},
    "stage": {"password": "Password", "second_factor": "Authenticator code", "recovery_code": "Recovery code"},
    "method": {"GET": "Viewed", "POST": "Changed"},
    "form": {"blank": "Not filled in", "invalid": "Not valid"},
}
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def when(moment: datetime) -> str:
    """GOV.UK style: '4 December 2026, 5:03pm', in the service's time zone."""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    hour = moment.hour % 12 or 12
    return f"{moment.day} {moment:%B %Y}, {hour}:{moment:%M}{'am' if moment.hour < 12 else 'pm'}"


def plain_value(key: str, value, *, names=None) -> str:
    """One stored detail value in words: dates formatted, ids named (``names(key, id)``), flags as yes/no."""
    if value is None or value == "":
        return "None"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if key.endswith("_id") and names is not None and isinstance(value, (int, str)) and str(value).isdigit():
        named = names(key, int(value))
        if named:
            return named
    if key.endswith("_id") and isinstance(value, int):
        return f"number {value}"
    if isinstance(value, str):
        if key == "action" and value in LABELS:
            return LABELS[value]
        if key in VALUE_WORDS and value in VALUE_WORDS[key]:
            return VALUE_WORDS[key][value]
        if ISO_DATETIME.match(value):
            try:
                return when(datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError:
                return value
        if ISO_DATE.match(value):
            try:
                moment = date.fromisoformat(value)
            except ValueError:
                return value
            return f"{moment.day} {moment:%B %Y}"
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(plain_value(key, item, names=names) for item in value) if value else "None"
    if isinstance(value, dict):
        parts = [f"{detail_label(k)}: {plain_value(k, v, names=names)}" for k, v in sorted(value.items())
                 if v not in (None, "", [], {})]
        return "; ".join(parts) if parts else "None set"
    return str(value)


def detail_label(key: str) -> str:
    if key in DETAIL_LABELS:
        return DETAIL_LABELS[key]
    words = key.removesuffix("_id").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def describe(details: dict, *, names=None) -> list[tuple[str, str]]:
    """An event's details as (label, value) pairs in plain words, in a stable order."""
    return [(detail_label(key), plain_value(key, value, names=names)) for key, value in sorted(details.items())]
