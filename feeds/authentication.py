"""Organisation API tokens for DRF: ``Authorization: Token <key>`` (or ``Bearer <key>``).

Checked on every request against the database (revoked tokens stop at once, SPEC 8);
the last-used time is written at most once a minute so a busy feed does not turn
every call into an extra UPDATE. django-axes never sees these attempts, so failed
keys are counted, audited and throttled here, per client address and claimed
organisation (``_refuse``): past ``FEED_TOKEN_FAILURE_LIMIT`` in
``FEED_TOKEN_LOCKOUT_MINUTES`` a wrong key gets 429, while a right key always works.
"""

import re
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from audit import services as audit
from audit.context import RequestContext
from audit.models import AccessEvent
from feeds.models import TOKEN_PREFIX, OrganisationToken
from practitioners.throttles import FailedKeyThrottle

KEYWORDS = (b"token", b"bearer")
LAST_USED_RESOLUTION = timedelta(minutes=1)

UNKNOWN_TOKEN = "This API token is not one Signpost issued: check you copied all of it."  # not "Invalid token."


class FeedClient:
    """The caller behind an organisation token: an organisation's system, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, token: OrganisationToken):
        self.token = token
        self.organisation = token.organisation

    def __str__(self):
        return f"Feed client (token #{self.token.pk})"


def feed_context(request) -> RequestContext:
    """Audit context for a token call: no user (the organisation goes in the event's details)."""
    base = RequestContext.of(request._request if hasattr(request, "_request") else request)
    return RequestContext(user=None, ip_address=base.ip_address, user_agent=base.user_agent,
                          request_id=base.request_id)


SAFE_PREFIX = re.compile(rf"^{TOKEN_PREFIX}[A-Za-z0-9_-]{{7}}\Z")  # what new_key() makes; nothing else is looked up
FEED_TOKENS = FailedKeyThrottle("feed-token", limit_setting="FEED_TOKEN_FAILURE_LIMIT",
                                minutes_setting="FEED_TOKEN_LOCKOUT_MINUTES")


def _claim(key: str) -> tuple[str, OrganisationToken | None]:
    """What a wrong key claims to be: the organisation whose token prefix it carries, else "unknown"."""
    prefix = key[:10]  # as feeds.services.issue_token stores it
    claimed = (OrganisationToken.objects.filter(prefix=prefix).only("pk", "organisation_id").first()
               if SAFE_PREFIX.match(prefix) else None)
    return (f"organisation:{claimed.organisation_id}" if claimed else "unknown"), claimed


def _refuse(request, reason: str, *, key: str = "", token: OrganisationToken | None = None, message: str):
    """Count a failed key under (client address, claimed organisation), audit it, and raise 401, or
    429 once that pair is over ``FEED_TOKEN_FAILURE_LIMIT``. The pair, not the address alone: behind a
    proxy every client shares an address, and one client's failures must not refuse another
    organisation's key (issue 17)."""
    claim, claimed = (f"organisation:{token.organisation_id}", token) if token else _claim(key)
    failures = FEED_TOKENS.fail(request, claim)
    throttled = FEED_TOKENS.over(failures)
    audit.record_event(
        action="feed.token.refused", context=feed_context(request), outcome=AccessEvent.Outcome.DENIED,
        reason=reason, details={"token_id": getattr(token, "pk", None), "failures": failures, "throttled": throttled,
                                "organisation_id": getattr(claimed, "organisation_id", None)},
    )
    if throttled:
        raise exceptions.Throttled(wait=FEED_TOKENS.seconds,
                                   detail="Too many failed token attempts; try again later.")
    raise exceptions.AuthenticationFailed(message)


class OrganisationTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() not in KEYWORDS:
            return None
        if len(header) != 2:
            _refuse(request, "malformed header", message="Give the token as: Authorization: Token <key>.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            _refuse(request, "malformed key", message=UNKNOWN_TOKEN)
        token = (
            OrganisationToken.objects.select_related("organisation__local_authority")
            .filter(key_hash=OrganisationToken.hash_key(key))
            .first()
        )
        # A right key is accepted whatever failures its address or organisation has had: the rest of a
        # 256-bit key cannot be guessed, so refusing it would only hand others a way to lock it out.
        if token is None:
            _refuse(request, "unknown token", key=key, message=UNKNOWN_TOKEN)
        if token.revoked_at is not None:
            _refuse(request, "revoked token", token=token, message="This token has been revoked.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            OrganisationToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return FeedClient(token), token

    def authenticate_header(self, request):
        return 'Token realm="signpost-feeds"'


class IsFeedClient(permissions.BasePermission):
    message = "Use an organisation API token."

    def has_permission(self, request, view):
        return isinstance(request.user, FeedClient)


class FeedTokenRateThrottle(throttling.SimpleRateThrottle):
    """Per-token request rate (``API_THROTTLE_RATE``)."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.user, FeedClient):
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"feed-token-{request.user.token.pk}"}


class OrganisationTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes organisation tokens."""

    target_class = OrganisationTokenAuthentication
    name = "organisationToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "An organisation API token, sent as `Token <key>` (or `Bearer <key>`)."}
