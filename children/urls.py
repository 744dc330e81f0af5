from django.urls import path

from children import views

app_name = "children"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("<child_ref:reference>/", views.record, name="record"),
    path("<child_ref:reference>/involvements/new/", views.add_involvement, name="add_involvement"),
    path("<child_ref:reference>/involvements/<int:involvement_id>/end/", views.end_involvement, name="end_involvement"),
    path("<child_ref:reference>/move/", views.record_move, name="move"),
    path("<child_ref:reference>/contact/", views.contact, name="contact"),
]
