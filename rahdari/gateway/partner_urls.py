from django.urls import path

from rahdari.gateway import partner_views

app_name = "partners"
urlpatterns = [
    path("", partner_views.partner_list, name="list"),
    path("new/", partner_views.partner_new, name="new"),
    path("<uuid:partner_id>/rotate/", partner_views.partner_rotate, name="rotate"),
]
