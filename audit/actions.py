"""Audit action names: what each means to an auditor, and which ones the anomaly view watches.

Actions are namespaced verbs (``child.view``). Services elsewhere choose their own;
an action missing here still shows in the log under its raw name.
"""

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
}

BREAK_GLASS_ACTIONS = ("grant.break_glass",)
CLAIM_ACTIONS = ("grant.claim",)  # a person's claim to work with a child their organisation could not open
SEARCH_ACTIONS = ("child.search",)


def label(action: str) -> str:
    return LABELS.get(action, action)


def choices() -> list[tuple[str, str]]:
    return sorted(LABELS.items(), key=lambda item: item[1])
