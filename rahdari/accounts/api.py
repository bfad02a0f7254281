"""Accounts API: who am I, citizen login by CNIC + SMS code, staff accounts."""

from typing import Any
from uuid import UUID

from django.contrib.auth import login
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from ninja.security import django_auth

from rahdari.accounts import selectors, services
from rahdari.accounts.models import request_user
from rahdari.accounts.roles import Role
from rahdari.core.api import ErrorOut
from rahdari.core.errors import ApplicationError, Forbidden
from rahdari.core.http import is_verified
from rahdari.core.models import District

router = Router(tags=["accounts"])


class MeOut(Schema):
    id: UUID
    username: str
    display_name: str
    is_citizen: bool
    roles: list[str]
    districts: list[str]
    language: str
    verified_second_factor: bool


@router.get(
    "/me", response={200: MeOut, 401: ErrorOut}, auth=django_auth, summary="The logged-in user"
)
def me(request: HttpRequest) -> dict[str, Any]:
    user = request_user(request)
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "is_citizen": user.is_citizen,
        "roles": [r.value for r in user.roles],
        "districts": [d.name for d in selectors.districts_of(user)] if not user.is_citizen else [],
        "language": user.preferred_language,
        "verified_second_factor": is_verified(user),
    }


class LoginCodeRequestIn(Schema):
    cnic: str


class LoginCodeRequestOut(Schema):
    sent: bool
    message: str


@router.post(
    "/citizen/login-code",
    response={200: LoginCodeRequestOut, 422: ErrorOut, 429: ErrorOut},
    auth=None,
    summary="Send a login code to the citizen's registered mobile",
)
def citizen_login_code(request: HttpRequest, payload: LoginCodeRequestIn) -> dict[str, Any]:
    services.login_code_request(cnic=payload.cnic)
    # The same answer whether or not the CNIC is registered: no account enumeration.
    from django.utils.translation import gettext as _

    return {
        "sent": True,
        "message": _("If this CNIC is registered, a code was sent to its mobile number."),
    }


class LoginCodeVerifyIn(Schema):
    cnic: str
    code: str


@router.post(
    "/citizen/login",
    response={200: MeOut, 400: ErrorOut, 422: ErrorOut},
    auth=None,
    summary="Log in with CNIC and the SMS code (starts a session)",
)
def citizen_login(request: HttpRequest, payload: LoginCodeVerifyIn) -> dict[str, Any]:
    user = services.login_code_verify(
        cnic_index=services.cnic_index_of(payload.cnic), code=payload.code
    )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return me(request)


class StaffCreateIn(Schema):
    username: str
    full_name: str
    password: str
    roles: list[Role]
    districts: list[str] = []
    phone: str = ""
    language: str = "en"


class StaffOut(Schema):
    id: UUID
    username: str
    roles: list[str]
    districts: list[str]


def _admin(request: HttpRequest) -> None:
    user = request_user(request)
    if not user.has_perm("accounts.manage_staff") or (user.requires_totp and not is_verified(user)):
        raise Forbidden("You may not manage staff accounts.")


def _staff_out(user: Any) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "roles": [r.value for r in user.roles],
        "districts": sorted(d.name for d in user.districts.all()),
    }


@router.get(
    "/staff",
    response={200: list[StaffOut], 401: ErrorOut, 403: ErrorOut},
    auth=django_auth,
    summary="Staff accounts (administrators)",
)
def staff_list(request: HttpRequest) -> list[dict[str, Any]]:
    _admin(request)
    return [_staff_out(u) for u in selectors.staff_accounts()]


@router.post(
    "/staff",
    response={
        201: StaffOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    auth=django_auth,
    summary="Create a staff account (administrators)",
)
def staff_create(request: HttpRequest, payload: StaffCreateIn) -> Status[dict[str, Any]]:
    _admin(request)
    districts = list(District.objects.filter(name__in=payload.districts))
    unknown = sorted(set(payload.districts) - {d.name for d in districts})
    if unknown:
        raise ApplicationError(
            f"Unknown districts: {', '.join(unknown)}",
            code="unknown_district",
            fields={"districts": [f"unknown: {', '.join(unknown)}"]},
        )
    if payload.language not in {"en", "ur", "ps"}:
        raise ApplicationError(
            "Unknown language.", code="unknown_language", fields={"language": ["use en, ur or ps"]}
        )
    user = services.staff_create(
        username=payload.username,
        full_name=payload.full_name,
        password=payload.password,
        roles=list(payload.roles),
        districts=districts,
        phone=payload.phone,
        language=payload.language,
        actor=request_user(request),
    )
    return Status(201, _staff_out(user))
