"""Rahdari settings: one module, driven by the environment.

RAHDARI_ENV selects the profile:
- ``demo`` (default): DEBUG on, SQLite under var/, keys generated into var/ on first use;
- ``test``: like demo, with fast password hashing;
- ``production``: refuses to start without every secret from the environment.

Every variable is documented in docs/operations.md.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import django.conf.locale
import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import lazy
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from rahdari.core import secrets as local_secrets

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = BASE_DIR.parent

env = environ.Env()
RAHDARI_ENV = env.str("RAHDARI_ENV", default="demo")
if RAHDARI_ENV not in {"demo", "test", "production"}:
    raise ImproperlyConfigured(
        f"RAHDARI_ENV must be demo, test or production, not {RAHDARI_ENV!r}."
    )
PRODUCTION = RAHDARI_ENV == "production"
TESTING = RAHDARI_ENV == "test" or "pytest" in sys.modules
VAR_DIR = Path(env.str("RAHDARI_VAR_DIR", default=str(PROJECT_DIR / "var")))

if PRODUCTION:
    missing = [
        name
        for name in (
            "RAHDARI_SECRET_KEY",
            "RAHDARI_MASTER_KEY",
            "RAHDARI_DATABASE_URL",
            "RAHDARI_ALLOWED_HOSTS",
            "RAHDARI_PUBLIC_URL",
            "RAHDARI_OIDC_RSA_PRIVATE_KEY",
        )
        if not os.environ.get(name)
    ]
    if missing:
        raise ImproperlyConfigured(
            "Production refuses to start without these environment variables: "
            + ", ".join(missing)
            + ". See docs/operations.md."
        )
    SECRET_KEY = env.str("RAHDARI_SECRET_KEY")
    RAHDARI_MASTER_KEY = local_secrets.parse_master_key(env.str("RAHDARI_MASTER_KEY"))
    DEBUG = False
    ALLOWED_HOSTS = env.list("RAHDARI_ALLOWED_HOSTS")
else:
    SECRET_KEY = os.environ.get("RAHDARI_SECRET_KEY") or local_secrets.local_secret(
        VAR_DIR, "secret_key", 50
    )
    RAHDARI_MASTER_KEY = local_secrets.parse_master_key(
        os.environ.get("RAHDARI_MASTER_KEY") or local_secrets.local_master_key(VAR_DIR)
    )
    DEBUG = env.bool("RAHDARI_DEBUG", default=True)
    ALLOWED_HOSTS = env.list("RAHDARI_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
    if TESTING:
        ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "rules.apps.AutodiscoverRulesConfig",
    "django_tasks",
    "django_tasks_db",
    "rahdari.core",
    "rahdari.accounts",
    "rahdari.identity",
    "rahdari.registry",
    "rahdari.programs",
    "rahdari.credentials",
    "rahdari.ledger",
    "rahdari.payments",
    "rahdari.documents",
    "rahdari.grievances",
    "rahdari.applications",
    "oauth2_provider",
    "rahdari.gateway",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "rahdari.accounts.middleware.LanguageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rahdari.config.urls"
WSGI_APPLICATION = "rahdari.config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rahdari.core.context_processors.shell",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------
_db_url = os.environ.get("RAHDARI_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'rahdari.sqlite3'}"
DATABASES = {"default": env.db_url_config(_db_url)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue instead of failing with "database is locked".
        # A 64 MiB page cache per connection keeps the upper levels of the big indexes
        # (the ledger's tree at ten million leaves) in memory.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; "
            "PRAGMA cache_size=-65536;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("RAHDARI_DB_CONN_MAX_AGE", 60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind pgbouncer in transaction mode, server-side cursors must be off.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "RAHDARI_DB_DISABLE_SERVER_SIDE_CURSORS", default=False
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication ---------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked username+IP pair before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "rahdari.accounts.hashers.SizedArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:workspace"
LOGOUT_REDIRECT_URL = "core:home"

AXES_FAILURE_LIMIT = env.int("RAHDARI_LOCKOUT_FAILURES", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("RAHDARI_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "rahdari.accounts.views.locked_out"
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env.int("RAHDARI_PROXY_COUNT", default=0)

OTP_TOTP_ISSUER = "Rahdari"
CITIZEN_OTP_MAX_PER_WINDOW = 3
CITIZEN_OTP_WINDOW = timedelta(minutes=10)
CITIZEN_OTP_LIFETIME = timedelta(minutes=5)
CITIZEN_OTP_MAX_ATTEMPTS = 5

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 8
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("RAHDARI_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    CSRF_TRUSTED_ORIGINS = env.list("RAHDARI_CSRF_TRUSTED_ORIGINS", default=[])

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}

# --- Languages --------------------------------------------------------------
# Django ships Urdu but not Pashto: add it, right-to-left.
django.conf.locale.LANG_INFO["ps"] = {
    "bidi": True,
    "code": "ps",
    "name": "Pashto",
    "name_local": "پښتو",
}
LANGUAGES_BIDI = ["ur", "ps", "ar", "fa", "sd"]
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ur", _("Urdu")), ("ps", _("Pashto"))]
LANGUAGE_COOKIE_NAME = "rahdari_lang"
LANGUAGE_COOKIE_AGE = 60 * 60 * 24 * 365
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Karachi"

# --- Static files -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"

# --- Stored files -----------------------------------------------------------
# Documents are encrypted before they reach the storage, so any backend will do: the
# filesystem under var/ by default; S3-compatible object storage through django-storages
# in production (docs/documents.md).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "documents": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": env.str("RAHDARI_DOCUMENTS_DIR", default=str(VAR_DIR / "documents")),
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
}
RAHDARI_DOCUMENT_MAX_BYTES = env.int("RAHDARI_DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024)
# Pixels a photo may have before it is decoded (a decompression bomb has far more).
RAHDARI_DOCUMENT_MAX_PIXELS = env.int("RAHDARI_DOCUMENT_MAX_PIXELS", default=50_000_000)
# Stored photos are at most this many pixels on their long side (still sharp for print).
RAHDARI_DOCUMENT_MAX_EDGE = env.int("RAHDARI_DOCUMENT_MAX_EDGE", default=4000)
# Temporary files older than this, left by a crash, are finished or removed by the worker.
RAHDARI_DOCUMENT_TEMP_MAX_AGE = timedelta(
    seconds=env.int("RAHDARI_DOCUMENT_TEMP_MAX_AGE_SECONDS", default=3600)
)
# ClamAV's clamd socket (e.g. /run/clamav/clamd.ctl); empty: files are not scanned.
RAHDARI_CLAMAV_SOCKET = env.str("RAHDARI_CLAMAV_SOCKET", default="")

# --- Background jobs --------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": env.str(
            "RAHDARI_TASK_BACKEND",
            default="django_tasks_db.DatabaseBackend",
        ),
        "QUEUES": ["default"],
    }
}
RAHDARI_JOB_STALE_AFTER = timedelta(seconds=env.int("RAHDARI_JOB_STALE_SECONDS", default=120))

# --- National ID authority (reference connector unless configured) ---------
RAHDARI_NID_CONNECTOR = env.str(
    "RAHDARI_NID_CONNECTOR", default="rahdari.identity.national_id.ReferenceConnector"
)
RAHDARI_NID_MODE = env.str("RAHDARI_NID_MODE", default="available")
RAHDARI_NID_LATENCY_MS = env.int("RAHDARI_NID_LATENCY_MS", default=0 if TESTING else 150)
RAHDARI_NID_FLAKY_RATE = env.float("RAHDARI_NID_FLAKY_RATE", default=0.1)
RAHDARI_NID_LATENCY_JITTER = env.float("RAHDARI_NID_LATENCY_JITTER", default=0.3)
RAHDARI_PHOTO_MAX_BYTES = 5 * 1024 * 1024

# Rate-limit counters live in the cache: per process unless a shared cache is named
# (production with several workers: e.g. RAHDARI_CACHE_URL=dbcache://rahdari_cache
# after `rahdari manage createcachetable`, or a Redis/Memcached URL).
CACHES = {"default": env.cache_url("RAHDARI_CACHE_URL", default="locmemcache://rahdari")}

# Partner departments authenticate with OAuth 2 client credentials (django-oauth-toolkit);
# secrets are stored hashed. docs/gateway.md.
OAUTH2_PROVIDER = {
    "SCOPES": {
        "gateway": "Ask for a citizen's attributes, with the citizen's consent",
        # "Log in with Rahdari" (OpenID Connect): who the citizen is, and the attributes
        # of gateway.rules.SCOPES the citizen agrees to share.
        "openid": "Log in with Rahdari: a sign-in number for this partner only",
        "identity.name": "Rahdari number and name (also in Urdu)",
        "identity.birth": "Date of birth and sex",
        "identity.guardian": "Father's or husband's name (also in Urdu)",
        "identity.address": "District, tehsil, union council and village",
        "identity.mobile": "Mobile number",
        "identity.photo": "Photo",
    },
    "DEFAULT_SCOPES": ["gateway"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "PKCE_REQUIRED": True,
    # OAuth 2.0 Security BCP (RFC 9700): tokens hashed at rest, no implicit or password
    # grants, S256 PKCE only, tokens only in the Authorization header.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    # "Log in with Rahdari": OpenID Connect for citizens, authorization code + PKCE S256
    # only, pairwise subjects, ID tokens signed RS256 (rahdari/gateway/oidc.py).
    # Production takes the signing key (PEM) from RAHDARI_OIDC_RSA_PRIVATE_KEY and refuses
    # to start without it; demo and test generate one into var/ (0600) on first use
    # (a lazy string: the helper lives beside DOT's classes, which load after settings).
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": (
        env.str("RAHDARI_OIDC_RSA_PRIVATE_KEY", multiline=True)
        if PRODUCTION
        else lazy(lambda: import_string("rahdari.gateway.oidc.rsa_private_key")(), str)()
    ),
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_SUBJECT_TYPES_SUPPORTED": ["pairwise"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ],
    "ID_TOKEN_EXPIRE_SECONDS": 600,
    "OAUTH2_VALIDATOR_CLASS": "rahdari.gateway.oidc.RahdariOIDCValidator",
    "OAUTH2_BACKEND_CLASS": "rahdari.gateway.oidc.CitizenLoginCore",
    "SCOPES_BACKEND_CLASS": "rahdari.gateway.oidc.ConsentScopes",
}
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105 — a model name
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"  # noqa: S105
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"

# QR credentials (docs/credential.md). The public URL is the credential issuer (CWT iss)
# and the base of the status-list URIs printed into every QR, so it must be the
# address verifiers reach: in production https://id.<province>.gov.pk, say.
RAHDARI_PUBLIC_URL = env.str("RAHDARI_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
RAHDARI_CREDENTIAL_VALIDITY_DAYS = env.int("RAHDARI_CREDENTIAL_VALIDITY_DAYS", default=5 * 365)
RAHDARI_STATUS_LIST_CAPACITY = env.int("RAHDARI_STATUS_LIST_CAPACITY", default=1_000_000)
RAHDARI_STATUS_LIST_TTL_SECONDS = env.int("RAHDARI_STATUS_LIST_TTL_SECONDS", default=3600)
RAHDARI_VERIFY_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
RAHDARI_VERIFY_RATE_PER_MINUTE = env.int("RAHDARI_VERIFY_RATE_PER_MINUTE", default=120)
# How stale a per-process cache of hot look-ups (a partner's token, a service, the
# signing key) may be in another process; and how often the server's QR verifier
# checks for a new key or a changed status list (a revocation reaches every process
# within this many seconds; the process that made it sees it at once).
RAHDARI_HOT_CACHE_SECONDS = env.float("RAHDARI_HOT_CACHE_SECONDS", default=5.0)
RAHDARI_VERIFIER_RECHECK_SECONDS = env.float("RAHDARI_VERIFIER_RECHECK_SECONDS", default=1.0)
# A web process chains the audit entries committed since at most this often; what a
# quiet process leaves is chained by the worker within a minute (docs/adr/0002).
RAHDARI_AUDIT_CHAIN_INTERVAL_SECONDS = env.float(
    "RAHDARI_AUDIT_CHAIN_INTERVAL_SECONDS", default=0.25
)
# The public ledger: a process that submitted entries sequences them into the tree after
# its commit at most this often (the worker does it every minute regardless), and signs
# a new tree head when the last one is older than RAHDARI_LEDGER_STH_INTERVAL_SECONDS.
RAHDARI_LEDGER_INTEGRATE_INTERVAL_SECONDS = env.float(
    "RAHDARI_LEDGER_INTEGRATE_INTERVAL_SECONDS", default=1.0
)
RAHDARI_LEDGER_STH_INTERVAL_SECONDS = env.float("RAHDARI_LEDGER_STH_INTERVAL_SECONDS", default=10)
RAHDARI_LEDGER_ORIGIN = env.str("RAHDARI_LEDGER_ORIGIN", default="rahdari.kp.gov.pk/ledger")
# Payments (docs/payments.md). The account directory answers "open, and in whose
# name?"; the reference one answers from the providers' reference books.
RAHDARI_PAYMENT_DIRECTORY = env.str(
    "RAHDARI_PAYMENT_DIRECTORY", default="rahdari.payments.providers.ReferenceDirectory"
)
# The prepaid-card issuer's card-management API (issue, activate, block, replace).
RAHDARI_CARD_ISSUER = env.str(
    "RAHDARI_CARD_ISSUER", default="rahdari.payments.providers.ReferenceCardIssuer"
)
RAHDARI_PAYMENT_PROVIDER_LATENCY = env.float("RAHDARI_PAYMENT_PROVIDER_LATENCY", default=0.08)
RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE = env.float(
    "RAHDARI_PAYMENT_PROVIDER_FAILURE_RATE", default=0.0
)
# How bank files go out and status reports come back; the reference bank answers from
# its books after a delay, like a bank's next processing window.
RAHDARI_BANK_RAIL = env.str(
    "RAHDARI_BANK_RAIL", default="rahdari.payments.providers.ReferenceBankRail"
)
RAHDARI_REFERENCE_BANK_DIR = Path(
    env.str("RAHDARI_REFERENCE_BANK_DIR", default=str(VAR_DIR / "reference-bank"))
)
RAHDARI_REFERENCE_BANK_DELAY_SECONDS = env.float(
    "RAHDARI_REFERENCE_BANK_DELAY_SECONDS", default=120
)
# The share of credited accounts the reference bank closes and returns the money from.
RAHDARI_REFERENCE_BANK_RETURN_RATE = env.float("RAHDARI_REFERENCE_BANK_RETURN_RATE", default=0.0)
# Wallet operators and card issuers (G2P Connect disburse, callbacks signed with a
# shared secret per provider: JSON {"jazzcash": "…"}; unset ones derive from the key ring).
RAHDARI_DISBURSEMENT_PROVIDER = env.str(
    "RAHDARI_DISBURSEMENT_PROVIDER",
    default="rahdari.payments.providers.ReferenceDisbursementProvider",
)
RAHDARI_PROVIDER_SECRETS = env.json("RAHDARI_PROVIDER_SECRETS", default={})
RAHDARI_PAYMENT_BATCH_SIZE = env.int("RAHDARI_PAYMENT_BATCH_SIZE", default=50_000)
# Threads of a cycle's compute and batch jobs, each on its own connection (PostgreSQL;
# SQLite works one chunk at a time): 2 keeps a 2-core server's cores both busy.
RAHDARI_PAYMENT_THREADS = env.int("RAHDARI_PAYMENT_THREADS", default=2)
# A wallet or card payment nobody collected in this many days is recalled (unclaimed).
RAHDARI_PAYMENT_COLLECTION_DAYS = env.int("RAHDARI_PAYMENT_COLLECTION_DAYS", default=90)
RAHDARI_PAYMENT_FILES_DIR = Path(
    env.str("RAHDARI_PAYMENT_FILES_DIR", default=str(VAR_DIR / "payment-files"))
)
# The province's disbursement account: the debtor of every bank instruction.
RAHDARI_PAYMENT_DEBTOR_NAME = env.str(
    "RAHDARI_PAYMENT_DEBTOR_NAME", default="Social Protection Authority KP - Disbursement"
)
RAHDARI_PAYMENT_DEBTOR_IBAN = env.str(
    "RAHDARI_PAYMENT_DEBTOR_IBAN", default="PK15KHYB0001002003004005"
)
RAHDARI_PAYMENT_DEBTOR_BIC = env.str("RAHDARI_PAYMENT_DEBTOR_BIC", default="KHYBPKKA")
RAHDARI_CARD_BATCH_SIZE = env.int("RAHDARI_CARD_BATCH_SIZE", default=100)
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# --- Notifications ----------------------------------------------------------
RAHDARI_SMS_SENDER = env.str(
    "RAHDARI_SMS_SENDER", default="rahdari.core.notifications.RecordingSender"
)
# Messages one number may send to the platform in an hour before the rest are refused.
RAHDARI_SMS_INBOUND_LIMIT = env.int("RAHDARI_SMS_INBOUND_LIMIT", default=20)

# --- Grievances ------------------------------------------------------------
# Complaints one phone number may lodge in an hour (flooding), and status lookups one
# client may try in a minute (guessing numbers).
RAHDARI_GRIEVANCE_LODGE_LIMIT = env.int("RAHDARI_GRIEVANCE_LODGE_LIMIT", default=5)
RAHDARI_GRIEVANCE_STATUS_LIMIT = env.int("RAHDARI_GRIEVANCE_STATUS_LIMIT", default=10)
# A voice note is at most this big (about five minutes of phone-quality audio).
RAHDARI_GRIEVANCE_VOICE_MAX_BYTES = env.int(
    "RAHDARI_GRIEVANCE_VOICE_MAX_BYTES", default=5 * 1024 * 1024
)

# --- Logging: never personal data -------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("RAHDARI_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "rahdari.identity.national_id": {
            "level": env.str("RAHDARI_NID_LOG_LEVEL", default="WARNING")
        },
    },
}
