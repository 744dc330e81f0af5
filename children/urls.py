from django.urls import path

from children import views

app_name = "children"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("<str:reference>/", views.record, name="record"),
    path("<str:reference>/involvements/new/", views.add_involvement, name="add_involvement"),
    path("<str:reference>/involvements/<int:involvement_id>/end/", views.end_involvement, name="end_involvement"),
    path("<str:reference>/move/", views.record_move, name="move"),
    path("<str:reference>/contact/", views.contact, name="contact"),
]
