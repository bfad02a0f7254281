"""/api/v1/: one django-ninja API, one router per app, one error shape.

Errors are always `{"error": {"code", "message", "fields"}}` with a 4xx status.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from rahdari.accounts.api import router as accounts_router
from rahdari.applications.api import router as applications_router
from rahdari.core.api import router as core_router
from rahdari.core.errors import ApplicationError, error_body
from rahdari.credentials.api import router as credentials_router
from rahdari.documents.api import router as documents_router
from rahdari.gateway.api import router as gateway_router
from rahdari.grievances.api import router as grievances_router
from rahdari.identity.api import router as identity_router
from rahdari.ledger.api import router as ledger_router
from rahdari.payments.api import router as payments_router
from rahdari.programs.api import router as programs_router
from rahdari.registry.api import router as registry_router

api = NinjaAPI(
    title="Rahdari API",
    version="1",
    description=(
        "QR digital ID and social-protection platform. Every error has the shape "
        '`{"error": {"code": "...", "message": "...", "fields": {...}}}`. '
        "Messages follow `?lang=en|ur|ps` or Accept-Language."
    ),
    urls_namespace="api-v1",
    docs_url="/docs",
)


def _respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


def _fields_from_validation(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for err in errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "query", "path", "payload")]
        name = ".".join(loc) or "__all__"
        fields.setdefault(name, []).append(str(err.get("msg", "invalid")))
    return fields


@api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return _respond(request, exc.status, error_body(exc.code, exc.message, exc.fields))


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = _fields_from_validation(exc.errors)
    return _respond(request, 422, error_body("invalid", _("Some fields are not valid."), fields))


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _respond(request, 401, error_body("unauthenticated", _("Log in first.")))


@api.exception_handler(AuthorizationError)
def _authorization_error(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return _respond(request, 403, error_body("forbidden", _("You may not do this.")))


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _respond(request, 403, error_body("forbidden", _("You may not do this.")))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _respond(request, 404, error_body("not_found", _("Not found.")))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {
        400: "bad_request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        429: "rate_limited",
    }.get(exc.status_code, "error")
    return _respond(request, exc.status_code, error_body(code, exc.message))


api.add_router("/", core_router)
api.add_router("/accounts", accounts_router)
api.add_router("/identity", identity_router)
api.add_router("/registry", registry_router)
api.add_router("/programs", programs_router)
api.add_router("/credentials", credentials_router)
api.add_router("/gateway", gateway_router)
api.add_router("/ledger", ledger_router)
api.add_router("/payments", payments_router)
api.add_router("/documents", documents_router)
api.add_router("/grievances", grievances_router)
api.add_router("/applications", applications_router)
