"""Log in with Rahdari: an OpenID Connect provider on django-oauth-toolkit (DOT).

A partner department's website sends the citizen to `/o/authorize/` (authorization
code flow, PKCE S256 only); the citizen, logged in to Rahdari, sees who asks and which
attributes, and allows or denies. The partner exchanges the code at `/o/token/` for an
ID token (RS256, keys at `/o/.well-known/jwks.json`) and may call `/o/userinfo/`.

Rules kept here, on top of DOT:

- only citizens with an active Rahdari ID log in (staff get a page that says so);
- the client must be an active, registered `Partner` (RS256, at least one service)
  and may ask only for `openid` plus the `identity.*` scopes in its `allowed_scopes`;
- every login shows the consent page: no silent (`prompt=none`), skipped or
  automatic approval, and no refresh tokens, so one approval hands the claims over once;
- the claims are exactly the attributes of the granted scopes (`gateway.rules.SCOPES`),
  and `sub` is pairwise: an HMAC of the Rahdari number and the client id, never the CNIC;
- each ID token issued is recorded as a `Release` (receipt, audit, SMS) by
  `services.oidc_release_record`, with the SHA-256 of the signed ID token.

Settings (`OAUTH2_PROVIDER`): `OAUTH2_VALIDATOR_CLASS` = `RahdariOIDCValidator`,
`OAUTH2_BACKEND_CLASS` = `CitizenLoginCore`, `SCOPES_BACKEND_CLASS` = `ConsentScopes`,
and `OIDC_RSA_PRIVATE_KEY` from `rsa_private_key()` outside production.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import SettingsScopes
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from rahdari.core import crypto
from rahdari.gateway import rules, selectors, services
from rahdari.gateway.models import Partner
from rahdari.identity.models import Person, PersonStatus

OPENID = "openid"
RSA_KEY_ENV = "RAHDARI_OIDC_RSA_PRIVATE_KEY"
RSA_KEY_FILE = "oidc_rsa_private_key.pem"
RSA_KEY_BITS = 3072

# Attribute (gateway.rules.SCOPES) → the claim that carries it: OpenID Connect Core §5.1
# standard claims where one fits (`name`, `birthdate`, `gender`, `address`,
# `phone_number`, `picture`), language-tagged claims for the Urdu script (§5.2), and
# plain private names for the rest. The four address attributes share `address`.
CLAIM_OF_ATTRIBUTE: dict[str, str] = {
    "rahdari_number": "rahdari_number",
    "full_name": "name",
    "full_name_ur": "name#ur",
    "date_of_birth": "birthdate",
    "sex": "gender",
    "guardian_name": "guardian_name",
    "guardian_name_ur": "guardian_name#ur",
    "district": "address",
    "tehsil": "address",
    "union_council": "address",
    "village": "address",
    "mobile": "phone_number",
    "photo": "picture",
}
# The photo is large: it goes out from the userinfo endpoint only, not in the ID token.
USERINFO_ONLY_CLAIMS = frozenset({"picture"})
GENDER = {"F": "female", "M": "male", "X": "other"}


# --- the signing key ---------------------------------------------------------------------


def rsa_private_key() -> str:
    """The PEM that signs ID tokens outside production: `RAHDARI_OIDC_RSA_PRIVATE_KEY` if
    set, else a key generated once into `VAR_DIR` (mode 0600), like the demo's other
    secrets (`rahdari.core.secrets`). Production reads the variable in settings and
    refuses to start without it."""
    configured = os.environ.get(RSA_KEY_ENV, "").strip()
    if configured:
        return configured.replace("\\n", "\n")
    return local_rsa_private_key(Path(settings.VAR_DIR))


@cache
def local_rsa_private_key(var_dir: Path) -> str:
    path = var_dir / RSA_KEY_FILE
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _publish_private(path, pem)
    return path.read_text()


def _publish_private(path: Path, content: bytes) -> None:
    """Write to a 0600 temporary file, then link it into place: a second process either
    wins the race or reads the first one's complete key, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


# --- who may log in, to whom -------------------------------------------------------------


def active_person(user: Any) -> Person | None:
    """The citizen's own active person record, or None (staff, not enrolled, suspended)."""
    if user is None or not getattr(user, "is_citizen", False):
        return None
    return (
        Person.objects.select_related("district")
        .filter(account=user, status=PersonStatus.ACTIVE)
        .first()
    )


def login_partner(application: Any) -> Partner | None:
    if application is None:
        return None
    return Partner.objects.filter(application=application, active=True).first()


def _is_login(scopes: Iterable[str]) -> bool:
    return any(s == OPENID or s in rules.SCOPES for s in scopes)


def _check_login_request(client: Any, scopes: list[str], request: Any) -> None:
    """An authorization request must be a Rahdari login by a registered partner, asking
    only for what the partner may ask for, with PKCE S256. Raises the OAuth error the
    client gets back on its redirect URI."""
    partner = login_partner(client)
    if partner is None:
        raise oauth_errors.UnauthorizedClientError(
            description="This client is not an active registered partner.", request=request
        )
    if client.algorithm != client.RS256_ALGORITHM:
        raise oauth_errors.UnauthorizedClientError(
            description="This client is not set up for RS256 ID tokens.", request=request
        )
    if not partner.services.exists():
        raise oauth_errors.UnauthorizedClientError(
            description="This partner runs no service.", request=request
        )
    if OPENID not in scopes:
        raise oauth_errors.InvalidScopeError(
            description="Log in with Rahdari needs the openid scope.", request=request
        )
    refused = [s for s in scopes if s != OPENID and s not in partner.allowed_scopes]
    if refused:
        raise oauth_errors.InvalidScopeError(
            description=f"This partner may not ask for: {' '.join(refused)}.", request=request
        )
    if request.code_challenge_method != "S256":
        raise oauth_errors.InvalidRequestError(
            description="PKCE with code_challenge_method=S256 is required.", request=request
        )


# --- claims ------------------------------------------------------------------------------


def pairwise_subject(person: Person, client_id: str) -> str:
    """`sub`: stable for one person at one client, unlinkable across clients, and not
    reversible to the Rahdari number without the master key (OpenID Connect Core §8.1)."""
    key = crypto.derive_key(settings.RAHDARI_MASTER_KEY, "oidc-pairwise-subject-v1")
    message = f"{client_id}\x00{person.rahdari_number}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _address(person: Person) -> dict[str, str]:
    parts = [person.village, person.union_council, person.tehsil, person.district.name]
    address = {
        "formatted": ", ".join(p for p in parts if p),
        "locality": person.village,
        "region": person.district.name,
        "country": "PK",
        "tehsil": person.tehsil,
        "union_council": person.union_council,
    }
    return {k: v for k, v in address.items() if v}


def _claim_values(person: Person) -> dict[str, Any]:
    return {
        "rahdari_number": person.rahdari_number,
        "name": person.full_name,
        "name#ur": person.full_name_ur,
        "birthdate": str(person.date_of_birth or ""),
        "gender": GENDER.get(person.sex, ""),
        "guardian_name": person.guardian_name,
        "guardian_name#ur": person.guardian_name_ur,
        "address": _address(person),
        "phone_number": person.mobile,
        "picture": f"data:image/jpeg;base64,{person.photo}" if person.photo else "",
    }


def claims_for(
    person: Person, client_id: str, scopes: Iterable[str], *, userinfo: bool
) -> dict[str, Any]:
    """The claims the granted scopes allow, and nothing else; empty ones are left out."""
    wanted = {CLAIM_OF_ATTRIBUTE[a] for a in rules.attributes_of(list(scopes))}
    if not userinfo:
        wanted -= USERINFO_ONLY_CLAIMS
    values = _claim_values(person)
    claims = {name: values[name] for name in sorted(wanted) if values[name]}
    return {"sub": pairwise_subject(person, client_id), **claims}


# --- DOT extension points ----------------------------------------------------------------


class RahdariOIDCValidator(OAuth2Validator):  # type: ignore[misc]  # DOT has no types
    """DOT's validator with the Rahdari login rules (see the module docstring)."""

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        if not super().validate_scopes(client_id, scopes, client, request, *args, **kwargs):
            return False
        if not request.response_type:
            # The token endpoint (client credentials): no citizen, so no login scopes.
            return not _is_login(scopes)
        _check_login_request(client, scopes, request)
        return True

    def validate_silent_login(self, request: Any) -> bool:
        return True  # DOT answers prompt=none without a session (login_required) itself

    def validate_silent_authorization(self, request: Any) -> bool:
        return False  # every login asks the citizen: prompt=none gets consent_required

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        if _is_login(request.scopes):
            return active_person(request.user) is not None and login_partner(client) is not None
        return True

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        if not super().validate_bearer_token(token, scopes, request):
            return False
        if _is_login(request.scopes):
            # Userinfo stops answering once the ID or the partner is no longer active.
            return (
                active_person(request.user) is not None
                and login_partner(request.client) is not None
            )
        return True

    def save_bearer_token(
        self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if _is_login(request.scopes or []):
            # No refresh token: one approval hands the claims over once, not for ever.
            token.pop("refresh_token", None)
        return super().save_bearer_token(token, request, *args, **kwargs)

    def get_oidc_claims(self, token: Any, token_handler: Any, request: Any) -> dict[str, Any]:
        return self._claims(request, userinfo=False)

    def get_userinfo_claims(self, request: Any) -> dict[str, Any]:
        return self._claims(request, userinfo=True)

    def get_discovery_claims(self, request: Any) -> list[str]:
        return ["sub", *sorted(set(CLAIM_OF_ATTRIBUTE.values()))]

    def _claims(self, request: Any, *, userinfo: bool) -> dict[str, Any]:
        person = active_person(request.user)
        if person is None:  # validate_code / validate_bearer_token refused this already
            raise oauth_errors.AccessDeniedError(request=request)
        return claims_for(person, request.client.client_id, request.scopes, userinfo=userinfo)

    def finalize_id_token(
        self, id_token: dict[str, Any], token: Any, token_handler: Any, request: Any
    ) -> str:
        """Sign the ID token and record the release it is, in one transaction."""
        partner = login_partner(request.client)
        if partner is None:
            raise oauth_errors.AccessDeniedError(request=request)
        with transaction.atomic():
            signed: str = super().finalize_id_token(id_token, token, token_handler, request)
            services.oidc_release_record(
                partner=partner,
                citizen=request.user,
                scopes=list(request.scopes),
                token_id=str(id_token["jti"]),
                response=signed,
            )
        return signed


class CitizensOnly(oauth_errors.FatalClientError):  # type: ignore[misc]
    error = "citizens_only"
    status_code = 403
    description = "Only citizens with an active Rahdari ID can log in with Rahdari."


class NotEnrolled(CitizensOnly):
    error = "not_enrolled"


def _refuse_unless_citizen(request: HttpRequest) -> None:
    """A page, not a redirect: the citizen (or staff member) is told why, and the
    partner gets nothing."""
    user = request.user
    if not getattr(user, "is_citizen", False):
        raise FatalClientError(error=CitizensOnly())
    if active_person(user) is None:
        raise FatalClientError(error=NotEnrolled())


class CitizenLoginCore(OAuthLibCore):  # type: ignore[misc]
    """DOT's bridge to oauthlib, with the Django user in view: the authorization
    endpoint serves citizens only, and approves only when the citizen pressed Allow."""

    def validate_authorization_request(self, request: HttpRequest) -> tuple[list[str], Any]:
        scopes, credentials = super().validate_authorization_request(request)
        _refuse_unless_citizen(request)
        return scopes, credentials

    def create_authorization_response(
        self, request: HttpRequest, scopes: Any, credentials: dict[str, Any], allow: bool
    ) -> Any:
        _refuse_unless_citizen(request)
        if allow and request.method != "POST":
            # DOT approves without the page for `skip_authorization` applications and for
            # `approval_prompt=auto` with a live token; a Rahdari login always asks.
            raise OAuthToolkitError(
                error=oauth_errors.ConsentRequired(
                    description="The citizen must approve every login.",
                    state=credentials.get("state"),
                ),
                redirect_uri=credentials["redirect_uri"],
            )
        return super().create_authorization_response(request, scopes, credentials, allow)


class ConsentScopes(SettingsScopes):  # type: ignore[misc]
    """The consent page names each scope by what it hands over, in the reader's language:
    the attributes of `gateway.rules.SCOPES`, labelled as on the citizen's sharing page."""

    def get_all_scopes(self) -> dict[str, Any]:
        scopes = dict(super().get_all_scopes())
        scopes[OPENID] = _("a sign-in number that only this office gets (not your CNIC)")
        for scope in rules.SCOPES:
            labels = selectors.attribute_labels(rules.attributes_of([scope]))
            scopes[scope] = ", ".join(str(label) for label in labels)
        return scopes
