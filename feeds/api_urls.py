from django.urls import path

from feeds import api

urlpatterns = [
    path("involvements/bulk", api.BulkInvolvementsView.as_view(), name="involvements-bulk"),
]
