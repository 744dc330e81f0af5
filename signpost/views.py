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
