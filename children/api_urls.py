from django.urls import path

from children import api

app_name = "children-api"

urlpatterns = [
    path("search/", api.ChildSearchView.as_view(), name="search"),
    path("<child_ref:reference>/", api.ChildRecordView.as_view(), name="record"),
]
