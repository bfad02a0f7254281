from django.urls import path

from rahdari.gateway import views

app_name = "gateway"
urlpatterns = [
    path("services/", views.catalog, name="catalog"),
    path("me/", views.my_sharing, name="my_sharing"),
    path("me/requests/<uuid:request_id>/", views.answer, name="answer"),
    path("me/consents/<uuid:consent_id>/revoke/", views.revoke, name="revoke"),
    path("me/receipts/<uuid:release_id>.json", views.receipt, name="receipt"),
]
