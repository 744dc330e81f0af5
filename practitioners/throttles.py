"""Throttles for the public forms (sign-up, password reset): django-ratelimit's core, per network
address, counted in the default cache (shared by every web worker in production)."""

from django_ratelimit.core import is_ratelimited

from audit.context import RequestContext
from practitioners import services


def over_rate(request, *, group: str, rate: str, why: str) -> bool:
    """Count this POST against ``rate`` for the caller's address; True (and the refusal audited as
    ``access.refused``) when it is over."""
    if not is_ratelimited(request, group=group, key="ip", rate=rate, method="POST", increment=True):
        return False
    services.record_refusal(context=RequestContext.of(request), why=why, path=request.path)
    return True
