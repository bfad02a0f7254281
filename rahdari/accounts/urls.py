from django.urls import path

from rahdari.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.staff_login, name="login"),
    path("login/verify/", views.staff_login_totp, name="login_totp"),
    path("login/citizen/", views.citizen_login, name="citizen_login"),
    path("logout/", views.logout_view, name="logout"),
    path("me/", views.me, name="me"),
    path("workspace/", views.workspace, name="workspace"),
    path("security/", views.security, name="security"),
    path("staff/", views.staff_list, name="staff_list"),
    path("citizens/lookup/", views.citizen_lookup, name="citizen_lookup"),
]
