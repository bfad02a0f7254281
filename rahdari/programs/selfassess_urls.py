from django.urls import path

from rahdari.programs import selfassess_views as views

app_name = "selfassess"
urlpatterns = [
    path("", views.start, name="start"),
    path("questions/", views.questions, name="questions"),
]
