"""Practitioner API tokens (DRF's ``Token <key>``) with failed keys counted, throttled and audited.

DRF's TokenAuthentication answers a wrong key with 401 and nothing else, however many are
tried. Here each wrong key is audited (``api.token.refused``) and counted per client address
(``throttles.PRACTITIONER_TOKENS``); past ``API_TOKEN_FAILURE_LIMIT`` in
``API_TOKEN_LOCKOUT_MINUTES`` wrong keys get 429 with Retry-After. A right key is always
accepted: its holder is not punished for what others behind the same address sent.
"""

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from audit.context import RequestContext
from practitioners import services
from practitioners.throttles import PRACTITIONER_TOKENS


def token_context(request) -> RequestContext:
    """Audit context for a refused key: nobody is signed in (reading ``request.user`` here would
    run authentication again)."""
    base = RequestContext.of(request._request if hasattr(request, "_request") else request)
    return RequestContext(user=None, ip_address=base.ip_address, user_agent=base.user_agent,
                          request_id=base.request_id)


class PractitionerTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed as error:
            failures = PRACTITIONER_TOKENS.fail(request, "practitioner-token")
            throttled = PRACTITIONER_TOKENS.over(failures)
            services.record_api_token_refusal(context=token_context(request), reason=str(error.detail)[:200],
                                              failures=failures, throttled=throttled)
            if throttled:
                raise exceptions.Throttled(
                    wait=PRACTITIONER_TOKENS.seconds,
                    detail="Too many wrong API tokens from this address; try again later.") from None
            raise
