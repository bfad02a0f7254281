"""Log in with Rahdari (OpenID Connect): a real client library (authlib) against the live
server, authorization code + PKCE S256, the ID token checked against the published keys;
and every refusal: no PKCE, staff, a scope the partner may not ask for, Deny."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from django.test import Client
from joserfc import jwt
from joserfc.jwk import KeySet
from oauth2_provider.models import Grant, get_application_model

from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.core.models import AuditEntry, OutboundMessage
from rahdari.gateway import oidc, rules
from rahdari.gateway.models import ConsentRequest, Release, Service
from rahdari.identity.models import Person
from tests.gateway.conftest import PartnerClient

Application = get_application_model()
REDIRECT = "https://portal.example.gov.pk/rahdari/callback"
LOGIN_SCOPES = ["identity.name", "identity.birth"]
ID_TOKEN_FIELDS = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "jti"}


class _Form(HTMLParser):
    """The consent form's fields, as a browser would send them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and attributes.get("id") == "authorizationForm":
            self._inside = True
        elif tag == "input" and self._inside and attributes.get("type") == "hidden":
            self.fields[attributes["name"] or ""] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def form_fields(html: str) -> dict[str, str]:
    parser = _Form()
    parser.feed(html)
    assert parser.fields, "no consent form on the page"
    return parser.fields


@pytest.fixture
def login_service(db: Any) -> Service:
    """An online service of the partner's own website (the catalogue may be flushed by a
    live-server test, so each test makes its own)."""
    return Service.objects.create(
        slug="citizen-portal",
        department="Social Welfare Department",
        department_ur="محکمۂ سماجی بہبود",
        department_ps="د ټولنیزې هوسایني څانګه",
        name_en="Citizen portal",
        name_ur="شہری پورٹل",
        name_ps="د اتباعو پورټل",
        description_en="Apply online after logging in with Rahdari.",
        description_ur="راہداری سے لاگ اِن کر کے آن لائن درخواست دیں۔",
        description_ps="له راهدارۍ سره ننوځئ او آنلاین غوښتنه وکړئ.",
        scopes=list(rules.SCOPES),
        channel=Service.Channel.ONLINE,
        enabled=True,
    )


@pytest.fixture
def login_client(
    make_partner: Callable[..., PartnerClient], login_service: Service
) -> Callable[..., PartnerClient]:
    """A registered partner whose client is set up for Log in with Rahdari."""

    def make(
        *, public: bool = False, scopes: list[str] | None = None, name: str = "Zakat Portal"
    ) -> PartnerClient:
        partner = make_partner(
            name=name,
            services_=("citizen-portal",),
            scopes=scopes or LOGIN_SCOPES,
            login_redirect_uris=[REDIRECT],
        )
        partner.partner.name_ur = "زکوٰۃ پورٹل"
        partner.partner.save(update_fields=["name_ur"])
        if public:  # a client that cannot keep a secret (PKCE only)
            application = partner.partner.application
            application.client_type = Application.CLIENT_PUBLIC
            application.save()
        return partner

    return make


@pytest.fixture
def citizen(active_person: Callable[..., Person], make_citizen: Callable[..., User]) -> User:
    """A citizen account with an active, enrolled person behind it."""
    person = active_person()
    user = make_citizen()
    Person.objects.filter(pk=person.pk).update(account=user)
    return user


def person_of(user: User) -> Person:
    return Person.objects.select_related("district").get(account=user)


def authorize_query(client_id: str, **extra: str) -> str:
    verifier = extra.pop("verifier", "v" * 50)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": " ".join(["openid", *LOGIN_SCOPES]),
        "state": "state-1",
        "nonce": "nonce-1",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    } | extra
    return "/o/authorize/?" + urlencode({k: v for k, v in params.items() if v})


def redirect_params(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.content[:500]
    location = response["Location"]
    assert location.startswith(REDIRECT + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def logged_in(user: User) -> Client:
    web = Client()
    web.force_login(user)
    return web


# --- end to end with a real OpenID Connect client ---------------------------------------


@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public"])
def test_login_with_rahdari_end_to_end(
    live_server: Any,
    login_client: Callable[..., PartnerClient],
    citizen: User,
    public: bool,
    request: pytest.FixtureRequest,
) -> None:
    partner = login_client(public=public)
    person = person_of(citizen)
    base = live_server.url

    # The relying party discovers the provider and its keys.
    discovery = requests.get(f"{base}/o/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == f"{base}/o"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["response_types_supported"] == ["code"]
    assert discovery["subject_types_supported"] == ["pairwise"]
    assert "RS256" in discovery["id_token_signing_alg_values_supported"]
    assert {"openid", *rules.SCOPES} <= set(discovery["scopes_supported"])
    assert {"sub", "name", "birthdate", "address", "phone_number"} <= set(
        discovery["claims_supported"]
    )
    jwks = requests.get(discovery["jwks_uri"], timeout=10).json()
    assert jwks["keys"] and all(k["kty"] == "RSA" and "d" not in k for k in jwks["keys"])

    # authlib builds the authorization request: PKCE S256, a nonce, a state.
    session = OAuth2Session(
        client_id=partner.client_id,
        client_secret=None if public else partner.secret,
        scope=" ".join(["openid", *LOGIN_SCOPES]),
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="none" if public else "client_secret_basic",
    )
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    # The citizen's browser, logged in to Rahdari, sees the consent page and allows.
    browser = requests.Session()
    # Close both sessions' keep-alive connections before the live server stops.
    request.addfinalizer(browser.close)
    request.addfinalizer(session.close)
    browser.cookies.set(
        settings.SESSION_COOKIE_NAME, logged_in(citizen).cookies[settings.SESSION_COOKIE_NAME].value
    )
    page = browser.get(url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    assert "Zakat Portal" in page.text and "date of birth" in page.text.lower()
    assert "mobile number" not in page.text.lower()
    answer = browser.post(
        url, data=form_fields(page.text) | {"allow": "yes"}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text[:500]
    location = answer.headers["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert location.startswith(REDIRECT) and params["state"] == state
    assert params["iss"] == discovery["issuer"]  # RFC 9207

    # authlib exchanges the code with the PKCE verifier; no refresh token comes back.
    token = session.fetch_token(
        discovery["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    assert "id_token" in token and "refresh_token" not in token

    # The ID token verifies against the published keys and holds only what was allowed.
    id_token = jwt.decode(token["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert id_token.header["kid"] in {k["kid"] for k in jwks["keys"]}
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": discovery["issuer"]},
        aud={"essential": True, "value": partner.client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
    ).validate(id_token.claims)
    claims = id_token.claims
    digest = hashlib.sha256(token["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert set(claims) == ID_TOKEN_FIELDS | {
        "rahdari_number",
        "name",
        "name#ur",
        "birthdate",
        "gender",
    }
    assert claims["name"] == person.full_name and claims["name#ur"] == person.full_name_ur
    assert claims["birthdate"] == str(person.date_of_birth) and claims["gender"] == "female"
    assert claims["sub"] == oidc.pairwise_subject(person, partner.client_id)
    assert person.rahdari_number not in claims["sub"] and person.national_id not in claims["sub"]

    # Userinfo answers the same claims, with the access token authlib holds.
    userinfo = session.get(discovery["userinfo_endpoint"], timeout=10)
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json() == {
        k: v for k, v in claims.items() if k not in ID_TOKEN_FIELDS - {"sub"}
    }

    # The code works once.
    again = requests.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": partner.client_id,
        },
        auth=None if public else (partner.client_id, partner.secret),
        timeout=10,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    # One receipt, with the hash of the ID token the partner holds, audited, on the page.
    release = Release.objects.get(partner=partner.partner)
    assert release.collection_method == "oidc_login"
    assert release.consent_type == Release.ConsentType.EXPLICIT
    assert release.attributes == rules.attributes_of(LOGIN_SCOPES)
    assert release.scopes == LOGIN_SCOPES and release.purpose == "Log in to Zakat Portal"
    assert release.service.slug == "citizen-portal" and release.person_id == person.pk
    assert release.response_sha256 == hashlib.sha256(token["id_token"].encode()).hexdigest()
    assert release.request.status == ConsentRequest.Status.RELEASED
    assert release.request.nonce == f"oidc:{claims['jti']}"
    assert AuditEntry.objects.filter(action="gateway.released", subject_id=str(release.pk)).exists()
    assert OutboundMessage.objects.filter(template="gateway.released").count() == 1
    mine = browser.get(f"{base}/gateway/me/", timeout=10).text
    assert f'data-release="{release.pk}"' in mine and "Log in to Zakat Portal" in mine


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public"])
def test_pkce_s256_is_required(
    login_client: Callable[..., PartnerClient], citizen: User, public: bool
) -> None:
    partner = login_client(public=public)
    web = logged_in(citizen)
    missing = redirect_params(
        web.get(authorize_query(partner.client_id, code_challenge="", code_challenge_method=""))
    )
    assert missing["error"] == "invalid_request" and missing["state"] == "state-1"
    plain = redirect_params(
        web.get(
            authorize_query(
                partner.client_id, code_challenge="x" * 43, code_challenge_method="plain"
            )
        )
    )
    assert plain["error"] == "invalid_request" and "S256" in plain["error_description"]

    # With a challenge the code is issued, but the token endpoint wants the verifier.
    query = authorize_query(partner.client_id)
    page = web.get(query)
    code = redirect_params(web.post(query, form_fields(page.content.decode()) | {"allow": "yes"}))
    body = {
        "grant_type": "authorization_code",
        "code": code["code"],
        "redirect_uri": REDIRECT,
        "client_id": partner.client_id,
    }
    auth = {}
    if not public:
        basic = base64.b64encode(f"{partner.client_id}:{partner.secret}".encode()).decode()
        auth = {"HTTP_AUTHORIZATION": f"Basic {basic}"}
    refused = Client().post("/o/token/", body, **auth)
    assert refused.status_code == 400 and refused.json()["error"] in (
        "invalid_request",
        "invalid_grant",
    )
    wrong = Client().post("/o/token/", body | {"code_verifier": "w" * 50}, **auth)
    assert wrong.status_code == 400
    assert not Release.objects.exists()


@pytest.mark.django_db
def test_staff_get_a_page_not_an_id_token(
    login_client: Callable[..., PartnerClient], make_staff: Callable[..., User]
) -> None:
    partner = login_client()
    staff = make_staff(Role.ADMINISTRATOR)
    web = logged_in(staff)
    query = authorize_query(partner.client_id)
    page = web.get(query)
    assert page.status_code == 403
    html = page.content.decode()
    assert "Only citizens can log in with Rahdari" in html and "authorizationForm" not in html
    # A forged Allow is refused the same way: no code, no release.
    forged = {
        "client_id": partner.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid identity.name",
        "state": "s",
        "nonce": "n",
        "code_challenge": create_s256_code_challenge("v" * 50),
        "code_challenge_method": "S256",
        "allow": "yes",
    }
    assert web.post(query, forged).status_code == 403
    assert not Grant.objects.exists() and not Release.objects.exists()


@pytest.mark.django_db
def test_a_citizen_without_an_active_id_gets_a_page(
    login_client: Callable[..., PartnerClient], make_citizen: Callable[..., User]
) -> None:
    partner = login_client()
    page = logged_in(make_citizen()).get(authorize_query(partner.client_id))
    assert page.status_code == 403 and "Your Rahdari ID is not active" in page.content.decode()


@pytest.mark.django_db
def test_only_what_the_partner_may_ask_for(
    login_client: Callable[..., PartnerClient],
    make_partner: Callable[..., PartnerClient],
    citizen: User,
) -> None:
    partner = login_client(scopes=["identity.name"])
    web = logged_in(citizen)

    def asked(scope: str, client_id: str = partner.client_id) -> dict[str, str]:
        return redirect_params(web.get(authorize_query(client_id, scope=scope)))

    mobile = asked("openid identity.name identity.mobile")
    assert mobile["error"] == "invalid_scope" and "identity.mobile" in mobile["error_description"]
    assert asked("openid identity.name gateway")["error"] == "invalid_scope"
    assert asked("identity.name")["error"] == "invalid_scope"  # no openid: not a login
    assert asked("openid identity.nonsense")["error"] == "invalid_scope"
    assert (
        web.get(authorize_query(partner.client_id, scope="openid identity.name")).status_code == 200
    )

    # A deactivated partner, or a client that is not a partner, gets nothing.
    partner.partner.active = False
    partner.partner.save(update_fields=["active"])
    assert asked("openid identity.name")["error"] == "unauthorized_client"
    stranger = Application.objects.create(
        name="not a partner",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT,
        algorithm=Application.RS256_ALGORITHM,
    )
    assert asked("openid", stranger.client_id)["error"] == "unauthorized_client"

    # Client credentials never carry login scopes (there is no citizen behind them).
    counter = make_partner(name="Counter desk")
    basic = base64.b64encode(f"{counter.client_id}:{counter.secret}".encode()).decode()
    token = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "openid identity.name"},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert token.status_code == 400 and token.json()["error"] == "invalid_scope"
    assert not Release.objects.exists()


@pytest.mark.django_db
def test_deny_sends_access_denied_and_shares_nothing(
    login_client: Callable[..., PartnerClient], citizen: User
) -> None:
    partner = login_client()
    web = logged_in(citizen)
    query = authorize_query(partner.client_id)
    page = web.get(query)
    denied = redirect_params(web.post(query, form_fields(page.content.decode())))
    assert denied["error"] == "access_denied" and denied["state"] == "state-1"
    assert "code" not in denied
    assert not Grant.objects.exists() and not Release.objects.exists()
    assert not ConsentRequest.objects.exists()


@pytest.mark.django_db
def test_every_login_asks_no_silent_or_automatic_approval(
    login_client: Callable[..., PartnerClient], citizen: User
) -> None:
    partner = login_client()
    web = logged_in(citizen)
    silent = redirect_params(web.get(authorize_query(partner.client_id, prompt="none")))
    assert silent["error"] == "consent_required"
    application = partner.partner.application
    application.skip_authorization = True
    application.save(update_fields=["skip_authorization"])
    skipped = redirect_params(web.get(authorize_query(partner.client_id)))
    assert skipped["error"] == "consent_required"
    assert not Grant.objects.exists() and not Release.objects.exists()


@pytest.mark.django_db
def test_consent_page_in_urdu_right_to_left(
    login_client: Callable[..., PartnerClient],
    active_person: Callable[..., Person],
    make_citizen: Callable[..., User],
) -> None:
    partner = login_client(scopes=["identity.name", "identity.address"])
    user = make_citizen(language="ur")
    Person.objects.filter(pk=active_person().pk).update(account=user)
    query = authorize_query(partner.client_id, scope="openid identity.address")
    html = logged_in(user).get(query).content.decode()
    assert '<html lang="ur" dir="rtl"' in html
    assert "زکوٰۃ پورٹل" in html  # the partner's Urdu name
    items = re.findall(r"<li>(.*?)</li>", html.split('class="consent-attributes"')[1])
    # The sign-in number line, then the attributes in Urdu (as on the sharing page).
    assert len(items) == 2 and re.search(r"[\u0600-\u06FF]", items[1]), items


# --- pieces ------------------------------------------------------------------------------


def test_every_attribute_has_a_claim() -> None:
    attributes = {a for attrs in rules.SCOPES.values() for a in attrs}
    assert attributes == set(oidc.CLAIM_OF_ATTRIBUTE)


@pytest.mark.django_db
def test_claims_follow_the_scopes_and_sub_is_pairwise(
    active_person: Callable[..., Person],
) -> None:
    person = active_person()
    everything = oidc.claims_for(person, "client-a", list(rules.SCOPES), userinfo=True)
    assert set(everything) == {"sub", *oidc.CLAIM_OF_ATTRIBUTE.values()} - {"guardian_name#ur"}
    assert everything["address"]["country"] == "PK"
    assert everything["picture"].startswith("data:image/jpeg;base64,")
    assert "picture" not in oidc.claims_for(person, "client-a", ["identity.photo"], userinfo=False)
    assert set(oidc.claims_for(person, "client-a", ["openid"], userinfo=True)) == {"sub"}
    mobile = oidc.claims_for(person, "client-a", ["identity.mobile"], userinfo=False)
    assert mobile == {"sub": everything["sub"], "phone_number": person.mobile}
    other = oidc.claims_for(person, "client-b", ["openid"], userinfo=False)
    assert other["sub"] != everything["sub"]
    assert other["sub"] == oidc.pairwise_subject(person, "client-b")


def test_demo_signing_key_is_generated_once_and_private(tmp_path: Path) -> None:
    pem = oidc.local_rsa_private_key(tmp_path)
    path = tmp_path / oidc.RSA_KEY_FILE
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert path.stat().st_mode & 0o777 == 0o600
    oidc.local_rsa_private_key.cache_clear()
    assert oidc.local_rsa_private_key(tmp_path) == pem
    assert [p.name for p in tmp_path.iterdir()] == [oidc.RSA_KEY_FILE]


@pytest.mark.django_db
def test_an_anonymous_visitor_is_sent_to_the_citizen_login_and_back(client: Any) -> None:
    response = client.get("/o/authorize/?client_id=x&response_type=code&scope=openid")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/citizen/?next=")
    client.get(response["Location"])
    assert client.session["rahdari_citizen_next"].startswith("/o/authorize/")
    client.get("/accounts/login/citizen/?next=https://evil.example/steal")
    assert client.session["rahdari_citizen_next"].startswith("/o/authorize/")
