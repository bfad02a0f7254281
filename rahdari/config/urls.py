from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import include, path, re_path, reverse_lazy
from django.utils.translation import gettext_lazy as _
from oauth2_provider.views import AuthorizationView

from rahdari.config.api import api
from rahdari.core.errors import error_body
from rahdari.credentials import views as credential_views

# status → (API code, page title, page text); the pages speak the visitor's language.
ERRORS = {
    400: ("bad_request", _("Bad request"), _("Something in the request was not right.")),
    403: (
        "forbidden",
        _("Not allowed"),
        _(
            "You do not have permission to open this page. If you think you should, "
            "ask your administrator."
        ),
    ),
    404: (
        "not_found",
        _("Page not found"),
        _("We could not find this page. Check the address, or go back to the home page."),
    ),
    500: (
        "server_error",
        _("Something went wrong"),
        _(
            "Something went wrong on our side. Nothing you entered was lost; please try "
            "again in a minute."
        ),
    ),
}


def _error(request: HttpRequest, status: int) -> HttpResponse:
    code, title, text = ERRORS[status]
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, title), status=status)
    return render(request, "errors/error.html", {"title": title, "text": text}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error(request, 400)


def forbidden(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error(request, 403)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500)


def _not_offered(request: HttpRequest, *args: object) -> HttpResponse:
    return _error(request, 404)


handler400 = bad_request
handler403 = forbidden
handler404 = not_found
handler500 = server_error

urlpatterns = [
    path("api/v1/", api.urls),
    path("accounts/", include("rahdari.accounts.urls")),
    path("identity/", include("rahdari.identity.urls")),
    path("registry/", include("rahdari.registry.urls")),
    path("programs/", include("rahdari.programs.urls")),
    path("payments/", include("rahdari.payments.urls")),
    path("documents/", include("rahdari.documents.urls")),
    path("grievances/", include("rahdari.grievances.urls")),
    path("applications/", include("rahdari.applications.urls")),
    path("credentials/", include("rahdari.credentials.urls")),
    path("eligibility/", include("rahdari.programs.selfassess_urls")),
    path("gateway/partners/", include("rahdari.gateway.partner_urls")),
    path("gateway/", include("rahdari.gateway.urls")),
    # "Log in with Rahdari" is for citizens: an anonymous visitor goes to the citizen login
    # (CNIC + SMS code) and comes back here, not to the staff login.
    path(
        "o/authorize/",
        AuthorizationView.as_view(login_url=reverse_lazy("accounts:citizen_login")),
        name="citizen_authorize",
    ),
    # django-oauth-toolkit's own client-management pages would let any logged-in user
    # register clients; partners are registered by administrators at /gateway/partners/.
    re_path(r"^o/(applications|authorized-tokens)/", _not_offered),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path(".well-known/rahdari-keys.json", credential_views.keyset, name="rahdari_keys"),
    path("status/<int:number>", credential_views.status_list, name="status_list"),
    path("ledger/", include("rahdari.ledger.urls")),
    path("", include("rahdari.core.urls")),
]
