""""Your sessions": a signed-in user sees where they are signed in and can end the others (ASVS 3.3.4)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from audit.context import RequestContext
from practitioners import selectors, services
from practitioners.decorators import signed_in_required
from practitioners.models import UserSession


@require_GET
@signed_in_required
def sessions(request):
    with transaction.atomic():
        services.record_page_view(action="session.list", context=RequestContext.of(request))
        rows = selectors.live_sessions_of(request.user)
    return render(request, "practitioners/sessions.html", {
        "rows": rows, "current": request.session.session_key, "idle_minutes": settings.SESSION_COOKIE_AGE // 60,
        "lifetime_hours": int(settings.SESSION_ABSOLUTE_LIFETIME.total_seconds() // 3600)})


@require_POST
@signed_in_required
def end_session(request, pk):
    try:
        services.end_own_session(session_id=pk, current_key=request.session.session_key,
                                 context=RequestContext.of(request))
    except UserSession.DoesNotExist:
        raise Http404("No such session of yours.") from None  # another user's session: the same as none
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, "That session has ended. It will need to sign in again.")
    return redirect("practitioners:sessions")
