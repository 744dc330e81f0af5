from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def home(request):
    """Landing page: what Signpost is, and a way in. No child data."""
    return render(request, "home.html")


@require_GET
def healthz(request):
    """Liveness for the load balancer: the database answers. No personal data."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


# Error pages (handler400, handler404): a GOV.UK page on the web, a JSON error under /api/,
# so a client of the API never has to parse HTML. Neither names what was asked for.

def bad_request(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "The request could not be understood."}, status=400)
    return render(request, "400.html", status=400)


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)
