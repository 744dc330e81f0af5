"""``POST /api/v1/involvements/bulk``: an organisation's system pushes its involvements."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import services as audit
from audit.models import AccessEvent
from feeds import services
from feeds.authentication import FeedTokenRateThrottle, IsFeedClient, OrganisationTokenAuthentication, feed_context
from feeds.serializers import BulkInvolvementsSerializer, BulkResultSerializer
from signpost.parsers import StrictJSONParser


class BulkInvolvementsView(APIView):
    authentication_classes = [OrganisationTokenAuthentication]
    permission_classes = [IsFeedClient]
    throttle_classes = [FeedTokenRateThrottle]
    parser_classes = [StrictJSONParser]

    @extend_schema(
        operation_id="involvements_bulk_upsert",
        summary="Create or update up to FEED_BATCH_SIZE involvements of the token's organisation",
        description=(
            "Upserts by the organisation's `external_id`. Each row is matched to a child: an exact NHS "
            "number or UPN wins; otherwise a confident demographic match; a possible match goes to the LA "
            "admin's review queue; no match creates a child record. Each row gets its own result, and a bad "
            "row never stops the others. Sending the same batch twice changes nothing."
        ),
        request=BulkInvolvementsSerializer,
        responses={
            200: BulkResultSerializer,
            400: OpenApiResponse(description="The body is not {\"rows\": [...]} with 1 to FEED_BATCH_SIZE rows."),
            401: OpenApiResponse(description="No token, an unknown token, or a revoked token."),
            403: OpenApiResponse(description="The body names an organisation other than the token's."),
            429: OpenApiResponse(description="Too many requests, or too many failed tokens from this address."),
        },
    )
    def post(self, request):
        token = request.auth
        context = feed_context(request)
        body = request.data if isinstance(request.data, dict) else {}
        rows = body.get("rows")
        problem = None
        if not isinstance(rows, list) or not rows:
            problem = {"rows": ["Send a JSON object with a non-empty list of rows: {\"rows\": [...]}."]}
        elif len(rows) > settings.FEED_BATCH_SIZE:
            problem = {"rows": [f"Send at most {settings.FEED_BATCH_SIZE} rows per request; this had {len(rows)}."]}
        elif "organisation" in body and str(body["organisation"]) != str(token.organisation_id):
            problem = {"organisation": ["This token belongs to another organisation."]}
        if problem:
            audit.record_event(action="feed.bulk", context=context, outcome=AccessEvent.Outcome.DENIED,
                               reason=next(iter(problem)),
                               details={"token_id": token.pk, "organisation_id": token.organisation_id})
            code = status.HTTP_403_FORBIDDEN if "organisation" in problem else status.HTTP_400_BAD_REQUEST
            return Response(problem, status=code)
        result = services.receive_batch(token=token, rows=rows, context=context)
        return Response(result.as_dict())
