"""REST API: child search and the child record, with the web's permission and audit rules."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, Throttled
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from audit.context import RequestContext
from children import serializers, services
from practitioners import throttles
from practitioners.api_permissions import IsVettedPractitioner
from practitioners.permissions import NoGrant, NotVetted

class ChildSearchView(APIView):
    permission_classes = [IsVettedPractitioner]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        operation_id="children_search",
        summary="Search for a child",
        description="At least two of name, date of birth and postcode, or an NHS number or UPN. Sent as a POST "
                    "so that names and dates of birth never appear in URLs or access logs. Every search is audited.",
        request=serializers.SearchRequestSerializer,
        responses={200: serializers.SearchResultSerializer, 400: OpenApiResponse(description="Invalid query"),
                   403: OpenApiResponse(description="Not a vetted practitioner"),
                   429: OpenApiResponse(description="Over the searches allowed per minute or per day")},
    )
    def post(self, request):
        query = serializers.SearchRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        refusal = throttles.search_refused(request)
        if refusal is not None:  # over SEARCH_RATE_PER_MINUTE or _PER_DAY: audited, nothing searched
            raise Throttled(wait=refusal.retry_after, detail=refusal.message)
        try:
            outcome = services.search_children(query=query.query(), mode=query.validated_data["mode"],
                                               context=RequestContext.of(request))
        except NotVetted as error:
            raise PermissionDenied(str(error))
        return Response(serializers.SearchResultSerializer(outcome).data)


class ChildRecordView(APIView):
    permission_classes = [IsVettedPractitioner]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        operation_id="children_record",
        summary="Read a child's record",
        description="Needs a live access grant. Without one the answer is 403 with where to ask for access or "
                    "use emergency access; sensitive services are masked and a shielded child has no address.",
        responses={200: serializers.ChildRecordSerializer, 403: serializers.NoGrantSerializer,
                   404: OpenApiResponse(description="No such record")},
    )
    def get(self, request, reference):
        try:
            record = services.open_record(reference=reference, context=RequestContext.of(request))
        except NoGrant as error:
            body = {"detail": str(error),
                    "request_access_url": reverse("practitioners:request_access", kwargs={"reference": reference}),
                    "break_glass_url": reverse("practitioners:break_glass", kwargs={"reference": reference})}
            return Response(serializers.NoGrantSerializer(body).data, status=status.HTTP_403_FORBIDDEN)
        except NotVetted as error:
            raise PermissionDenied(str(error))
        return Response(serializers.ChildRecordSerializer(record).data)
