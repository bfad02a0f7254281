from django.urls import path

from rahdari.programs import views

app_name = "programs"
urlpatterns = [
    path("", views.program_list, name="list"),
    path("runs/<uuid:run_id>/", views.run_detail, name="run"),
    path("runs/<uuid:run_id>/whatif/", views.run_whatif, name="run_whatif"),
    path("runs/<uuid:run_id>/decision/", views.run_decide, name="run_decide"),
    path("versions/<uuid:version_id>/decision/", views.version_decide, name="version_decide"),
    path("decisions/<int:decision_id>/", views.decision_detail, name="decision"),
    path("appeals/", views.appeal_list, name="appeals"),
    path("appeals/<uuid:appeal_id>/decision/", views.appeal_decide, name="appeal_decide"),
    path("<slug:code>/", views.program_detail, name="program"),
    path("<slug:code>/runs/", views.run_start, name="run_start"),
]
