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
    "child.search": "Searched for a child",
    "child.view": "Opened a child's record",
    "grant.involvement": "Access granted: own organisation involved",
    "grant.access_request": "Access granted: request approved",
    "grant.break_glass": "Break-glass access",
    "grant.revoke": "Access revoked",
    "admin.view": "Used the Django admin",
    "audit.events.view": "Viewed the audit log",
    "audit.events.export": "Exported the audit log",
    "audit.child_report": "Produced a who-accessed-this-record report",
    "audit.child_report.export": "Downloaded a who-accessed-this-record report",
    "audit.anomalies.view": "Viewed anomalies",
    "audit.anomaly.open": "Opened an anomaly to review",
    "audit.anomaly.review": "Marked an anomaly reviewed",
    "audit.console.refused": "Refused entry to the audit console",
}

BREAK_GLASS_ACTIONS = ("grant.break_glass",)
SEARCH_ACTIONS = ("child.search",)


def label(action: str) -> str:
    return LABELS.get(action, action)


def choices() -> list[tuple[str, str]]:
    return sorted(LABELS.items(), key=lambda item: item[1])
