from django.urls import path

from rahdari.gateway import desk, views

app_name = "gateway"
urlpatterns = [
    path("services/", views.catalog, name="catalog"),
    path("me/", views.my_sharing, name="my_sharing"),
    path("me/requests/<uuid:request_id>/", views.answer, name="answer"),
    path("me/consents/<uuid:consent_id>/revoke/", views.revoke, name="revoke"),
    path("me/receipts/<uuid:release_id>.json", views.receipt, name="receipt"),
    path("desk/", desk.index, name="desk"),
    path("desk/<slug:service_slug>/", desk.counter, name="desk_service"),
    path("desk/<slug:service_slug>/code/", desk.code, name="desk_code"),
    path("desk/<slug:service_slug>/status/", desk.status, name="desk_status"),
    path("desk/<slug:service_slug>/outcome/", desk.outcome, name="desk_outcome"),
    path("desk/<slug:service_slug>/next/", desk.next_person, name="desk_next"),
]
