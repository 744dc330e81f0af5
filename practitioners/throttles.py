"""Throttles: guessing and volume limits on every way in (issue 17).

- Public forms (sign-up, password reset): django-ratelimit's core, per network address.
- Failed sign-ins per account, from every address together (ASVS 2.2.1): ``SignInFailure``
  rows over a sliding window; django-axes keeps the per-address lockout.
- Failed API keys (practitioner tokens here, organisation tokens in ``feeds.authentication``):
  ``FailedKeyThrottle``, keyed so one client's failures never refuse another's right key.
- Searches per practitioner per minute and per day, web and API.

Counters that are not rows live in the default cache (Redis in production, shared by every
web worker; in-process memory in the embedded default).
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django_ratelimit import ALL
from django_ratelimit.core import get_usage, is_ratelimited

from audit.context import RequestContext
from practitioners import services
from practitioners.models import SignInFailure

USERNAME_LENGTH = 150  # auth.User.username; longer names cannot belong to an account


def over_rate(request, *, group: str, rate: str, why: str) -> bool:
    """Count this POST against ``rate`` for the caller's address; True (and the refusal audited as
    ``access.refused``) when it is over."""
    if not is_ratelimited(request, group=group, key="ip", rate=rate, method="POST", increment=True):
        return False
    services.record_refusal(context=RequestContext.of(request), why=why, path=request.path)
    return True


# --- Failed sign-ins per account, across every address ------------------------------------

def _account(username: str) -> str:
    """The username as a counter key: cut to the field, and storable (no NUL, no lone surrogates), since
    this runs on whatever a sign-in form was sent, before the form is checked."""
    cut = (username or "")[:USERNAME_LENGTH]
    return cut.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def axes_username(request, credentials=None) -> str | None:
    """``AXES_USERNAME_CALLABLE``: the username axes records, cut and cleaned like ours. Axes stores it
    in a varchar(255) before any form check, so a 1 MB or NUL username was a 500 (issue 17)."""
    if credentials:
        name = credentials.get("username")
    else:
        name = getattr(request, "data", request.POST).get("username")
    return _account(name) if name is not None else None


def account_locked_until(username: str, *, now: datetime | None = None) -> datetime | None:
    """When sign-in to ``username`` opens again, or None when it is open.

    Locked while the window holds ``LOGIN_ACCOUNT_FAILURE_LIMIT`` failures: until the oldest of the
    last ``limit`` failures leaves the window. One probe of the (username, failed_at) index.
    """
    if not username:
        return None
    now = now or timezone.now()
    window, limit = settings.LOGIN_ACCOUNT_WINDOW, settings.LOGIN_ACCOUNT_FAILURE_LIMIT
    nth = (SignInFailure.objects.filter(username=_account(username), failed_at__gt=now - window)
           .order_by("-failed_at").values_list("failed_at", flat=True)[limit - 1:limit].first())
    return nth + window if nth is not None else None


def count_sign_in_failure(username: str, *, now: datetime | None = None) -> datetime | None:
    """Record one failed sign-in for ``username`` (any address); returns the lockout's end when
    this failure locks the account. Failures older than the window are deleted here."""
    if not username:
        return None
    now = now or timezone.now()
    SignInFailure.objects.filter(failed_at__lte=now - settings.LOGIN_ACCOUNT_WINDOW).delete()
    SignInFailure.objects.create(username=_account(username), failed_at=now)
    return account_locked_until(username, now=now)


@dataclass(frozen=True)
class SignInLockout:
    """What the LA admin sees about a user's sign-in throttles."""

    account_until: datetime | None  # every address, after LOGIN_ACCOUNT_FAILURE_LIMIT failures an hour
    addresses_locked: int  # addresses django-axes refuses for this username now
    recent_failures: int  # failures within the window, from every address

    @property
    def locked(self) -> bool:
        return bool(self.account_until or self.addresses_locked)


def sign_in_lockout(user, *, now: datetime | None = None) -> SignInLockout:
    from axes.models import AccessAttempt

    now = now or timezone.now()
    username = user.get_username()
    addresses = AccessAttempt.objects.filter(
        username=username, failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
        attempt_time__gt=now - settings.AXES_COOLOFF_TIME).values("ip_address").distinct().count()
    recent = SignInFailure.objects.filter(username=_account(username),
                                          failed_at__gt=now - settings.LOGIN_ACCOUNT_WINDOW).count()
    return SignInLockout(account_until=account_locked_until(username, now=now), addresses_locked=addresses,
                         recent_failures=recent)


# --- Failed API keys -----------------------------------------------------------------------

class FailedKeyThrottle:
    """Counts failed API keys per (client address, what the key claims to be) in the cache.

    ``claim`` is the organisation whose token prefix the key carries, or "unknown". A right key
    is never refused because of failures: the keys are 160 to 256 random bits, so refusing one
    would protect nothing against guessing and would let whoever shares a proxy address (or
    learnt a prefix) lock another organisation out. Past the limit a wrong key gets 429 with
    Retry-After instead of 401, and each refusal is audited by the caller.
    """

    def __init__(self, scope: str, *, limit_setting: str, minutes_setting: str):
        self.scope, self.limit_setting, self.minutes_setting = scope, limit_setting, minutes_setting

    @property
    def limit(self) -> int:
        return getattr(settings, self.limit_setting)

    @property
    def seconds(self) -> int:
        return getattr(settings, self.minutes_setting) * 60

    def _key(self, request, claim: str) -> str:
        address = request.META.get("REMOTE_ADDR", "")
        digest = hashlib.sha256(f"{address}\x00{claim}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"throttle:{self.scope}:{digest}"

    def failures(self, request, claim: str) -> int:
        return cache.get(self._key(request, claim)) or 0

    def fail(self, request, claim: str) -> int:
        """Count one failure; returns the count in this window (the window starts at the first)."""
        key = self._key(request, claim)
        cache.add(key, 0, timeout=self.seconds)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=self.seconds)
            return 1

    def over(self, count: int) -> bool:
        return count > self.limit


PRACTITIONER_TOKENS = FailedKeyThrottle("api-token", limit_setting="API_TOKEN_FAILURE_LIMIT",
                                        minutes_setting="API_TOKEN_LOCKOUT_MINUTES")


# --- Searches per practitioner --------------------------------------------------------------

@dataclass(frozen=True)
class SearchLimit:
    period: str  # "minute" or "day"
    limit: int
    retry_after: int  # seconds until this window ends

    @property
    def message(self) -> str:
        if self.period == "minute":
            return (f"You have searched {self.limit} times in the last minute, the most Signpost allows. "
                    f"Wait a minute, then search again.")
        hours = max(1, round(self.retry_after / 3600))
        return (f"You have searched {self.limit} times today, the most Signpost allows in a day. You can search "
                f"again in about {hours} hour{'s' if hours != 1 else ''}. If you need to search sooner, contact your "
                f"local authority's Signpost administrator.")


def _searcher(group, request) -> str:
    return str(request.user.pk)


def search_refused(request) -> SearchLimit | None:
    """Count one search by the signed-in user against ``SEARCH_RATE_PER_MINUTE`` and
    ``SEARCH_RATE_PER_DAY``; over either, the refusal (audited as ``child.search.refused``,
    with the period) to show instead of searching. A refused search does not count."""
    for period, limit, unit in (("minute", settings.SEARCH_RATE_PER_MINUTE, "m"),
                                ("day", settings.SEARCH_RATE_PER_DAY, "d")):
        usage = get_usage(request, group=f"search-per-{period}", key=_searcher, rate=f"{limit}/{unit}",
                          method=ALL, increment=False)
        if usage is not None and usage["count"] >= limit:
            refusal = SearchLimit(period=period, limit=limit, retry_after=max(int(usage["time_left"]), 1))
            services.record_search_refusal(context=RequestContext.of(request), period=period, limit=limit)
            return refusal
    for period, limit, unit in (("minute", settings.SEARCH_RATE_PER_MINUTE, "m"),
                                ("day", settings.SEARCH_RATE_PER_DAY, "d")):
        get_usage(request, group=f"search-per-{period}", key=_searcher, rate=f"{limit}/{unit}",
                  method=ALL, increment=True)
    return None
