from django.urls import path

from rahdari.registry import views

app_name = "registry"
urlpatterns = [
    path("households/", views.household_list, name="households"),
    path("households/<uuid:household_id>/", views.household_detail, name="household"),
    path(
        "households/<uuid:household_id>/answers/",
        views.household_answers_edit,
        name="household_answers",
    ),
]
