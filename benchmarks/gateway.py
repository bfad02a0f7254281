"""Service gateway: attribute release with a standing consent, over HTTP.

Run: .venv/bin/python benchmarks/gateway.py            (100 requests/s for 60 s, 3 to 4 minutes)
     .venv/bin/python benchmarks/gateway.py --quick    (20 requests/s for 10 s, a smoke run)
     .venv/bin/python benchmarks/gateway.py --rate 40 --seconds 30 --workers 4 --threads 1
     .venv/bin/python benchmarks/gateway.py --profile 300   (adds a cProfile of 300 requests)

The issue's target: "Attribute release with a standing consent: p95 <= 50 ms at 100
requests/s for 60 s on this machine, served by gunicorn against PostgreSQL, load
generated on loopback." Prints one JSON object.

What it does, all in a temporary directory deleted afterwards (also on failure):

1. Starts its own PostgreSQL cluster on a free 127.0.0.1 port, as the ``postgres``
   user when run as root (initdb refuses root), with the settings of
   ``scripts/with-postgres.sh`` (fsync off; ``--durable`` turns fsync and synchronous
   commit back on), and runs ``migrate``.
2. Setup, in this process with Django (not timed as the figure): a partner registered
   with ``partner_register`` for ``sehat-card`` with the scopes ``identity.name`` and
   ``identity.birth``, its rate limit raised out of the way; ``--persons`` active
   persons from the synthetic registry (``bulk_create``, with mobile numbers, so every
   release also queues its SMS) and their credentials from ``credentials_issue_bulk``;
   one standing consent given through the real flow (request, SMS code, code
   submitted), the same consent for everybody else with ``Consent.objects.bulk_create``.
3. Serves the project with gunicorn (``rahdari.config.wsgi``; ``--workers``,
   ``--threads``, ``--worker-class``; by default 3 ``gthread`` workers of one thread
   each: one process per core plus one to use the CPU while another waits on
   PostgreSQL, no GIL shared between requests, and, unlike the ``sync`` worker,
   keep-alive), gets a client-credentials token at
   ``/o/token/``, warms the workers up, then drives ``POST /api/v1/gateway/requests``
   open-loop at ``--rate`` requests/s for ``--seconds``: request *i* is due at
   ``start + i / rate`` whatever happened to the earlier ones, and its latency is
   counted from that due time (so a backlog in the generator is not hidden). Every
   request has a new nonce and the next person's compact QR (``--by qr``, the default:
   the server verifies its signature and status) or Rahdari number (``--by number``).
   Keep-alive connections, one per generator thread.
4. Reports p50/p95/p99/max, the achieved rate, errors by status, the CPU time of the
   generator, the gunicorn workers and PostgreSQL over the run beside the machine's
   (they all share the machine's cores), and how often backends waited for the audit
   log's advisory lock (sampled from ``pg_stat_activity``).
5. Stops gunicorn and replays ``--stage-requests`` requests in this process through
   the Django test client, timing each stage of one release (token check, rate
   limit, QR verification, person lookup, consent lookup, JWS signing, audit entries,
   SMS outbox, …) with the SQL it ran: where the time of one request goes.
   ``--profile N`` adds a cProfile (CPU time) of N more requests, by library.

The cache is Django's default here, local memory per worker process, so the rate
limit counts per worker; the partner's limit is raised so that it never refuses.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from _machine import (
    Postgres,
    free_port,
    machine_cpu,
    own_cpu,
    package_version,
    postgres_bindir,
    stop_process,
    tree_cpu_seconds,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
SERVICE = "sehat-card"
SCOPES = ["identity.name", "identity.birth"]
PURPOSE = "Admission under the Sehat Card"
API_PATH = "/api/v1/gateway/requests"
TARGET_P95_MS = 50.0


# --------------------------------------------------------------------------- processes


# --------------------------------------------------------------------------- CPU time


# --------------------------------------------------------------------------- HTTP client


class Http:
    """One keep-alive connection per thread; a connection the server closed while idle
    is opened again and the request sent once more."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()
        self.reconnects = 0
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            self.local.conn = conn
        return conn

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if attempt == 2 or not reused:
                    raise
                with self._lock:
                    self.reconnects += 1
                continue
            if response.will_close:
                conn.close()
            return response.status, data
        raise AssertionError("unreachable")

    def close_all(self) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()


def _wait_until_serving(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/gateway/services")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


def _token(port: int, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/o/token/",
        body=b"grant_type=client_credentials&scope=gateway",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"/o/token/ answered {response.status}: {body[:200]!r}")
    return str(json.loads(body)["access_token"])


# --------------------------------------------------------------------------- load


@dataclass
class LoadResult:
    due: np.ndarray  # seconds from the start when each request was due
    sent: np.ndarray  # when a generator thread sent it
    done: np.ndarray  # when its response had been read
    status: np.ndarray  # HTTP status, 0 for a connection error
    seconds: float  # from the first due time to the last response
    schedule_seconds: float  # how long issuing the schedule took
    errors: Counter[str] = field(default_factory=Counter)
    sample_body: bytes = b""
    threads_used: int = 0


def _drive(
    http_: Http, bodies: list[bytes], token: str, rate: float, max_threads: int
) -> LoadResult:
    """Open loop: request i starts at start + i / rate, whatever the earlier ones do."""
    n = len(bodies)
    due = np.zeros(n)
    sent = np.full(n, np.nan)
    done = np.full(n, np.nan)
    status = np.zeros(n, dtype=np.int32)
    errors: Counter[str] = Counter()
    sample: list[bytes] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    threads: set[int] = set()

    def one(i: int) -> None:
        threads.add(threading.get_ident())
        sent[i] = time.perf_counter()
        try:
            code, body = http_.request("POST", API_PATH, bodies[i], headers)
        except Exception as exc:  # counted, the run goes on
            done[i] = time.perf_counter()
            errors[type(exc).__name__] += 1
            return
        done[i] = time.perf_counter()
        status[i] = code
        if code == 201:
            if b'"status":"released"' not in body and b'"status": "released"' not in body:
                errors["201_without_release"] += 1
            elif not sample:
                sample.append(body)
        else:
            match = re.search(rb'"code":\s*"([^"]+)"', body)
            errors[f"{code} {match.group(1).decode() if match else ''}".strip()] += 1

    with ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="load") as pool:
        start = time.perf_counter() + 0.05
        for i in range(n):
            due[i] = start + i / rate
            delay = due[i] - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i)
        schedule_seconds = time.perf_counter() - start
    return LoadResult(
        due=due - start,
        sent=sent - start,
        done=done - start,
        status=status,
        seconds=float(np.nanmax(done) - start),
        schedule_seconds=schedule_seconds,
        errors=errors,
        sample_body=sample[0] if sample else b"",
        threads_used=len(threads),
    )


def _ms(values: np.ndarray) -> dict[str, float]:
    values = values[~np.isnan(values)] * 1000
    if not len(values):
        return {}
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p90_ms": round(float(np.percentile(values, 90)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(float(values.max()), 2),
        "mean_ms": round(float(values.mean()), 2),
    }


class LockSampler(threading.Thread):
    """Samples pg_stat_activity: backends running a query, and those waiting for the
    audit log's advisory lock (``pg_advisory_xact_lock`` in ``audit_record``)."""

    def __init__(self, dsn: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.dsn, self.interval = dsn, interval
        self.stop_event = threading.Event()
        self.samples: list[tuple[int, int]] = []

    def run(self) -> None:
        import psycopg

        with (
            contextlib.suppress(psycopg.OperationalError),  # the server stopped under it
            psycopg.connect(self.dsn, autocommit=True) as conn,
        ):
            while not self.stop_event.wait(self.interval):
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE state = 'active'"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()),"
                    " count(*) FILTER (WHERE wait_event_type = 'Lock'"
                    " AND wait_event = 'advisory')"
                    " FROM pg_stat_activity"
                ).fetchone()
                assert row is not None
                self.samples.append((int(row[0]), int(row[1])))

    def summary(self) -> dict[str, Any]:
        if not self.samples:
            return {}
        active = [a for a, _ in self.samples]
        waiting = [w for _, w in self.samples]
        return {
            "samples": len(self.samples),
            "interval_s": self.interval,
            "active_queries_mean": round(statistics.fmean(active), 2),
            "advisory_lock_waiters_mean": round(statistics.fmean(waiting), 2),
            "advisory_lock_waiters_max": max(waiting),
            "share_of_samples_with_a_waiter": round(sum(w > 0 for w in waiting) / len(waiting), 3),
        }


# --------------------------------------------------------------------------- setup


def _django_env(tmp: Path, database_url: str, public_url: str) -> dict[str, str]:
    return {
        "RAHDARI_ENV": "demo",
        "RAHDARI_DEBUG": "0",  # as in production: no query log, no debug pages
        "RAHDARI_VAR_DIR": str(tmp / "var"),  # secret key and master key made here
        "RAHDARI_DATABASE_URL": database_url,
        "RAHDARI_PUBLIC_URL": public_url,
        "RAHDARI_NID_LATENCY_MS": "0",
        "RAHDARI_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "rahdari.config.settings",
    }


def _rahdari_number(serial: int) -> str:
    """A deterministic 12-digit Verhoeff-valid number (as in benchmarks/credentials.py)."""
    from stdnum import verhoeff

    body = str(10_000_000_000 + serial * 7_919 % 89_999_999_999)
    return body + str(verhoeff.calc_check_digit(body))


@dataclass
class Setup:
    client_id: str
    secret: str
    partner_pk: Any
    qr_texts: list[str]
    numbers: list[str]
    seconds: dict[str, float]
    real_flow_error: str | None


def _setup(count: int, seed: int) -> Setup:
    """Persons, credentials, a partner and standing consents (in this process)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import DatabaseError, transaction
    from django.utils import timezone

    from rahdari.core.keyring import blind_index
    from rahdari.core.models import District, OutboundMessage
    from rahdari.core.synthetic import generate_batches
    from rahdari.credentials.models import Credential
    from rahdari.credentials.services import credentials_issue_bulk
    from rahdari.gateway import services
    from rahdari.gateway.models import Consent, Service
    from rahdari.identity.matching import name_key
    from rahdari.identity.models import Person, PersonStatus

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    seconds["migrate"] = time.perf_counter() - started

    started = time.perf_counter()
    districts = {d.name: d for d in District.objects.all()}
    fallback = sorted(districts.values(), key=lambda d: d.name)
    persons: list[Person] = []
    for batch in generate_batches(households=count // 3 + 100, seed=seed):
        hh, p = batch.households, batch.persons
        district = np.repeat(hh["district"], hh["household_size"]).tolist()
        tehsil = np.repeat(hh["tehsil"], hh["household_size"]).tolist()
        for i in range(len(p["person_id"])):
            mobile, national_id = str(p["mobile"][i]), str(p["national_id"][i])
            if not mobile or p["id_document"][i] != "cnic" or not national_id:
                continue  # adults with a CNIC and a phone: the release sends them an SMS
            full = f"{p['given_name'][i]} {p['family_name'][i]}"
            full_ur = f"{p['given_name_ur'][i]} {p['family_name_ur'][i]}"
            born = p["date_of_birth"][i]
            born = born.isoformat() if hasattr(born, "isoformat") else str(born)[:10]
            persons.append(
                Person(
                    rahdari_number=_rahdari_number(len(persons)),
                    id_document="cnic",
                    national_id=national_id,
                    national_id_index=blind_index("cnic", national_id),
                    full_name=full,
                    full_name_ur=full_ur,
                    guardian_name=str(p["father_or_husband_name"][i]),
                    guardian_name_ur=str(p["father_or_husband_name_ur"][i]),
                    name_key=blind_index("name", name_key(full, full_ur)),
                    sex=str(p["sex"][i]),
                    date_of_birth=born,
                    birth_year=int(born[:4]),
                    mobile=mobile,
                    mobile_index=blind_index("phone", mobile),
                    district=districts.get(district[i]) or fallback[i % len(fallback)],
                    tehsil=str(tehsil[i]),
                    status=PersonStatus.ACTIVE,
                )
            )
            if len(persons) == count:
                break
        if len(persons) == count:
            break
    if len(persons) < count:
        raise RuntimeError(f"the synthetic registry gave {len(persons)} of {count} persons")
    with transaction.atomic():
        Person.objects.bulk_create(persons, batch_size=1_000)
    seconds["persons"] = time.perf_counter() - started

    started = time.perf_counter()
    active = list(
        Person.objects.filter(status=PersonStatus.ACTIVE)
        .select_related("district", "account")
        .order_by("pk")
    )
    for offset in range(0, len(active), 1_000):
        with transaction.atomic():
            credentials_issue_bulk(
                persons=active[offset : offset + 1_000], actor=None, with_photos=False
            )
    seconds["credentials"] = time.perf_counter() - started

    started = time.perf_counter()
    partner, client_id, secret = services.partner_register(
        name="Saidu Teaching Hospital, Swat",
        department="Health Department",
        contact_email="admissions@example.gov.pk",
        services=Service.objects.filter(slug=SERVICE),
        allowed_scopes=SCOPES,
        actor=None,  # the system
        # Out of the way: the counter is per worker process (locmem cache).
        rate_per_minute=10_000_000,
    )
    by_person = {
        c.person_id: c.qr_compact
        for c in Credential.objects.filter(status="active").only("person_id", "qr_compact")
    }
    first = active[0]
    # The real flow for one person: request with a standing consent, SMS code, code back.
    request, token = services.consent_request_create(
        partner=partner,
        service_slug=SERVICE,
        scopes=SCOPES,
        purpose=PURPOSE,
        nonce="setup-standing-consent",
        qr=by_person[first.pk],
        standing_months=12,
    )
    assert token is None and request.status == "pending", request.status
    message = (
        OutboundMessage.objects.filter(recipient_index=blind_index("phone", first.mobile))
        .filter(template__startswith="gateway.consent_code")
        .order_by("-created_at")
        .first()
    )
    assert message is not None, "no consent SMS"
    code = re.search(r"\b(\d{6})\b", message.text)
    assert code, message.text
    service = Service.objects.get(slug=SERVICE)
    real_flow_error = None
    try:
        _, token = services.consent_code_submit(
            request=request, code=code.group(1), partner=partner
        )
        assert token, "the code did not release"
        given = Consent.objects.get(person=first, partner=partner)
        scopes, purpose, valid_until, rest = (
            given.scopes,
            given.purpose,
            given.valid_until,
            active[1:],
        )
    except DatabaseError as exc:
        # On PostgreSQL `_live` locks the request with select_for_update() across the
        # nullable join to person.account, which PostgreSQL refuses ("FOR UPDATE cannot
        # be applied to the nullable side of an outer join"): no code submission or web
        # approval can complete there. The consent is then written like the others.
        real_flow_error = f"consent_code_submit: {type(exc).__name__}: {exc}".strip()
        scopes, purpose, rest = SCOPES, PURPOSE, active
        valid_until = timezone.now() + timedelta(days=30 * 12)
    Consent.objects.bulk_create(
        [
            Consent(
                person=person,
                partner=partner,
                service=service,
                scopes=scopes,
                purpose=purpose,
                valid_until=valid_until,
            )
            for person in rest
        ],
        batch_size=1_000,
    )
    seconds["partner_and_consents"] = time.perf_counter() - started
    assert Consent.objects.filter(revoked_at=None, valid_until__gt=timezone.now()).count() == count
    return Setup(
        client_id=client_id,
        secret=secret,
        partner_pk=partner.pk,
        qr_texts=[by_person[p.pk] for p in active],
        numbers=[str(p.rahdari_number) for p in active],
        seconds={k: round(v, 1) for k, v in seconds.items()},
        real_flow_error=real_flow_error,
    )


def _bodies(setup: Setup, count: int, by: str, prefix: str) -> list[bytes]:
    out = []
    for i in range(count):
        body: dict[str, Any] = {
            "service": SERVICE,
            "scopes": SCOPES,
            "purpose": PURPOSE,
            "nonce": f"{prefix}-{i:07d}",
        }
        if by == "qr":
            body["qr"] = setup.qr_texts[i % len(setup.qr_texts)]
        else:
            body["rahdari_number"] = setup.numbers[i % len(setup.numbers)]
        out.append(json.dumps(body).encode())
    return out


def _check_release(port: int, body: bytes, client_id: str) -> dict[str, Any]:
    """Verify one release's JWS with the published key set, as a partner would."""
    from joserfc import jws
    from joserfc.jwk import OKPKey

    from rahdari.credentials import cwt

    token = json.loads(body)["release"]["response"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/.well-known/rahdari-keys.json")
    keys = json.loads(conn.getresponse().read())
    conn.close()
    header = json.loads(cwt.unb64url(token.split(".")[0]))
    row = next(k for k in keys["keys"] if k["kid"] == header["kid"])
    key = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": row["x"]})
    payload = json.loads(jws.deserialize_compact(token, key, algorithms=["Ed25519"]).payload)
    return {
        "signature_valid": True,
        "aud_is_client": payload["aud"] == client_id,
        "consent_type": payload["consent"]["type"],
        "attributes": sorted(payload["attributes"]),
        "response_bytes": len(body),
    }


# --------------------------------------------------------------------------- stages


class Stages:
    """Exclusive wall time and SQL per named stage of one request (wrapped functions;
    a stage's time excludes the wrapped stages it calls)."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []  # [name, child seconds]
        self.current: dict[str, float] = defaultdict(float)
        self.sql: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self.lock_from: float | None = None
        self.lock_hold: float | None = None
        self.statements: list[str] = []

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            self.stack.append([name, 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                _, child = self.stack.pop()
                self.current[name] += elapsed - child
                if self.stack:
                    self.stack[-1][1] += elapsed

        return wrapper

    def execute(self, execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, *args)
        finally:
            stage = self.stack[-1][0] if self.stack else "outside stages"
            entry = self.sql[stage]
            entry[0] += 1
            self.statements.append(f"{stage}: {' '.join(sql.split())[:110]}")
            entry[1] += time.perf_counter() - started
            if "pg_advisory_xact_lock" in sql and self.lock_from is None:
                self.lock_from = started
                from django.db import transaction

                transaction.on_commit(self._committed)

    def _committed(self) -> None:
        if self.lock_from is not None:
            self.lock_hold = time.perf_counter() - self.lock_from

    def reset(self) -> None:
        self.current = defaultdict(float)
        self.sql = defaultdict(lambda: [0, 0.0])
        self.lock_from = self.lock_hold = None
        self.statements = []


@contextlib.contextmanager
def _patched(stages: Stages) -> Iterator[None]:
    from joserfc import jws

    from rahdari.core import audit, notifications
    from rahdari.credentials import services as credentials
    from rahdari.gateway import api, services

    targets: list[tuple[Any, str, str]] = [
        (api.PartnerToken, "authenticate", "token_check"),
        (services, "consent_request_create", "request_insert_and_checks"),
        (services, "rate_limit", "rate_limit"),
        (services, "_person_from", "person_lookup"),
        (credentials, "credential_verify", "qr_verify"),
        (credentials._verifier_cache, "get", "qr_verifier_cache_check"),
        (services, "_standing_consent", "consent_lookup"),
        (services, "_release", "release_and_request_rows"),
        (services, "_signing_jwk", "signing_key_load"),
        (jws, "serialize_compact", "jws_sign"),
        (services, "audit_record", "audit_entries"),
        (services, "audit_record_read", "audit_entries"),
        (audit, "audit_record", "audit_entries"),
        (notifications, "audit_record", "audit_entries"),
        (services, "notification_send", "sms_outbox_insert"),
        (notifications, "notification_deliver", "sms_deliver_after_commit"),
    ]
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in targets]
    try:
        for obj, attr, name in targets:
            setattr(obj, attr, stages.wrap(name, getattr(obj, attr)))
        yield
    finally:
        for obj, attr, original in reversed(saved):
            setattr(obj, attr, original)


def _stage_timing(setup: Setup, token: str, count: int, by: str) -> dict[str, Any]:
    """Replay requests in this process (no gunicorn, no network) and time each stage."""
    from django.db import connection
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    bodies = _bodies(setup, count + 20, by, "stages")
    headers = {"Authorization": f"Bearer {token}"}
    stages = Stages()
    totals: list[float] = []
    cpu: list[float] = []
    per_stage: dict[str, list[float]] = defaultdict(list)
    sql: dict[str, list[tuple[int, float]]] = defaultdict(list)
    holds: list[float] = []
    request_queries: list[int] = []
    request_sql: list[float] = []
    with _patched(stages), connection.execute_wrapper(stages.execute):
        for i, body in enumerate(bodies):
            stages.reset()
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.post(API_PATH, body, content_type="application/json", headers=headers)
            elapsed, cpu_elapsed = time.perf_counter() - started, time.process_time() - cpu_started
            assert response.status_code == 201, response.content
            if i < 20:
                continue  # warm-up
            totals.append(elapsed)
            cpu.append(cpu_elapsed)
            for name, seconds in stages.current.items():
                per_stage[name].append(seconds)
            for name, (n, seconds) in stages.sql.items():
                sql[name].append((int(n), seconds))
            request_queries.append(int(sum(n for n, _ in stages.sql.values())))
            request_sql.append(sum(s for _, s in stages.sql.values()))
            if stages.lock_hold is not None:
                holds.append(stages.lock_hold)
    measured = sum(statistics.fmean(v) for v in per_stage.values())
    rows: dict[str, Any] = {}
    for name in sorted(per_stage, key=lambda k: -statistics.fmean(per_stage[k])):
        queries = sql.get(name, [])
        rows[name] = {
            "mean_ms": round(statistics.fmean(per_stage[name]) * 1000, 3),
            "queries": round(statistics.fmean(q for q, _ in queries), 1) if queries else 0,
            "sql_ms": round(statistics.fmean(s for _, s in queries) * 1000, 3) if queries else 0,
        }
    outside = sql.get("outside stages", [])
    rows["django_ninja_middleware_and_response"] = {
        "mean_ms": round((statistics.fmean(totals) - measured) * 1000, 3),
        "queries": round(statistics.fmean(q for q, _ in outside), 1) if outside else 0,
        "sql_ms": round(statistics.fmean(s for _, s in outside) * 1000, 3) if outside else 0,
    }
    return {
        "requests": len(totals),
        "note": "in process, Django test client, no gunicorn or network; exclusive times",
        "request_ms": _ms(np.asarray(totals)),
        "request_cpu_ms_mean": round(statistics.fmean(cpu) * 1000, 3),
        "queries_per_request": round(statistics.fmean(request_queries), 1),
        "sql_ms_per_request": round(statistics.fmean(request_sql) * 1000, 3),
        "advisory_lock_held_ms": _ms(np.asarray(holds)),
        "stages": rows,
        "statements_of_the_last_request": stages.statements,
    }


def _with_machine_share(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``work()``'s result with the share of the machine other processes used meanwhile
    (this process and PostgreSQL are the only ones meant to run)."""
    busy, total = machine_cpu()
    own = own_cpu()
    out = work()
    busy2, total2 = machine_cpu()
    others = (busy2 - busy) - (own_cpu() - own)
    out["machine_share_of_other_processes_and_postgresql"] = round(others / (total2 - total), 3)
    return out


def _package(filename: str) -> str:
    """The library a profiled function belongs to (site-packages name or project)."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        name = parts[parts.index("site-packages") + 1]
        return name.removesuffix(".py")
    if "rahdari" in parts:
        i = parts.index("rahdari")
        return "/".join(parts[i : i + 2]).removesuffix(".py")
    if "benchmarks" in parts:
        return "benchmarks"
    return "stdlib"


def _profile(setup: Setup, token: str, count: int, by: str) -> dict[str, Any]:
    """cProfile over ``count`` requests replayed in this process: CPU by library, and
    the functions that take it. Profiling slows Python calls down, so read the shares."""
    import cProfile
    import pstats

    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    bodies = _bodies(setup, count + 20, by, "profile")
    headers = {"Authorization": f"Bearer {token}"}
    for body in bodies[:20]:
        client.post(API_PATH, body, content_type="application/json", headers=headers)
    # CPU time, not wall time: on a shared machine, waiting for a core is not cost.
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for body in bodies[20:]:
        response = client.post(API_PATH, body, content_type="application/json", headers=headers)
        assert response.status_code == 201, response.content
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    by_package: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.items():
        by_package[_package(filename)] += tottime
        total += tottime

    def row(key: tuple[str, int, str], value: tuple[Any, ...]) -> dict[str, Any]:
        filename, line, name = key
        short = "/".join(Path(filename).parts[-2:]) if filename[0] not in "~<" else filename
        return {
            "function": f"{short}:{line}({name})",
            "calls": round(value[1] / count, 1),
            "self_ms": round(value[2] / count * 1000, 3),
            "cumulative_ms": round(value[3] / count * 1000, 3),
        }

    top_self = sorted(stats.items(), key=lambda kv: -kv[1][2])[:20]
    ours = [kv for kv in stats.items() if "/rahdari/" in kv[0][0]]
    top_ours = sorted(ours, key=lambda kv: -kv[1][3])[:20]
    return {
        "requests": count,
        "profiled_ms_per_request": round(total / count * 1000, 3),
        "self_time_share_by_library": {
            k: round(v / total, 3) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])
        },
        "top_self_time": [row(k, v) for k, v in top_self],
        "project_functions_by_cumulative_time": [row(k, v) for k, v in top_ours],
    }


# --------------------------------------------------------------------------- main


def _gunicorn(
    port: int, workers: int, threads: int, worker_class: str, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "rahdari.config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--keep-alive",
        "30",  # the generator's connections can idle between requests
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--error-logfile",
        str(log),
    ]
    return subprocess.Popen(
        command, cwd=PROJECT_DIR, env=os.environ | env, stdin=subprocess.DEVNULL
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 requests/s for 10 s, 200 persons")
    parser.add_argument("--rate", type=float, default=None, help="requests per second (100)")
    parser.add_argument("--seconds", type=float, default=None, help="length of the run (60)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes (3)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1)")
    parser.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"))
    parser.add_argument("--persons", type=int, default=None, help="persons with consent (1000)")
    parser.add_argument("--by", default="qr", choices=("qr", "number"), help="how to name them")
    parser.add_argument("--warmup-seconds", type=float, default=None, help="at the rate (5)")
    parser.add_argument("--max-threads", type=int, default=256, help="generator threads at most")
    parser.add_argument("--stage-requests", type=int, default=None, help="in process (300)")
    parser.add_argument("--profile", type=int, default=0, help="cProfile N requests in process")
    parser.add_argument("--durable", action="store_true", help="PostgreSQL with fsync on")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.worker_class == "sync" and args.threads != 1:
        parser.error("--worker-class sync serves one request at a time: give --threads 1")
    quick = args.quick
    rate = args.rate or (20.0 if quick else 100.0)
    seconds = args.seconds or (10.0 if quick else 60.0)
    persons = args.persons or (200 if quick else 1_000)
    warmup = args.warmup_seconds if args.warmup_seconds is not None else (2.0 if quick else 5.0)
    stage_requests = (
        args.stage_requests if args.stage_requests is not None else (50 if quick else 300)
    )

    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the clean-up below runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_start = os.getloadavg()
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="rahdari-bench-gateway-"))
    tmp.chmod(0o755)  # the postgres user must reach its data directory inside
    pg = Postgres(tmp / "pg", free_port(), postgres_bindir(), args.durable)
    port = free_port()
    env = _django_env(tmp, pg.url, f"http://127.0.0.1:{port}")
    os.environ.update(env)
    gunicorn: subprocess.Popen[bytes] | None = None
    sampler: LockSampler | None = None
    log = tmp / "gunicorn.log"
    result: dict[str, Any] = {
        "benchmark": "gateway",
        "quick": quick,
        "date": datetime.now(UTC).date().isoformat(),
        "target": f"p95 <= {TARGET_P95_MS:g} ms at 100 requests/s for 60 s",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    try:
        pg.start()
        result["postgresql"] = pg.version() + (" (fsync on)" if args.durable else " (fsync off)")
        setup = _setup(persons, args.seed)
        from django.db import connections

        from rahdari.core.models import AuditEntry, OutboundMessage
        from rahdari.gateway.models import Release

        connections.close_all()
        gunicorn = _gunicorn(port, args.workers, args.threads, args.worker_class, env, log)
        _wait_until_serving(port, gunicorn, 60)
        token = _token(port, setup.client_id, setup.secret)
        http_ = Http(port)

        # Warm-up at the rate: every worker imports, builds its verifier, opens its
        # database connection. Not counted.
        n_warm = int(warmup * rate)
        warm = (
            _drive(http_, _bodies(setup, n_warm, args.by, "warm"), token, rate, args.max_threads)
            if n_warm
            else None
        )
        if warm is not None and warm.errors:
            raise RuntimeError(f"errors during warm-up: {dict(warm.errors)}")

        n = int(round(seconds * rate))
        bodies = _bodies(setup, n, args.by, "run")
        releases_before, audit_before, outbox_before = (
            Release.objects.count(),
            AuditEntry.objects.count(),
            OutboundMessage.objects.count(),
        )
        connections.close_all()
        sampler = LockSampler(pg.url.replace("postgres://", "postgresql://"), 0.2)
        sampler.start()
        cpu_gen, cpu_server = own_cpu(), tree_cpu_seconds(gunicorn.pid)
        cpu_pg = tree_cpu_seconds(pg.pid())
        machine_busy, machine_total = machine_cpu()
        load = _drive(http_, bodies, token, rate, args.max_threads)
        machine_busy2, machine_total2 = machine_cpu()
        cpu_gen = own_cpu() - cpu_gen
        cpu_server = tree_cpu_seconds(gunicorn.pid) - cpu_server
        cpu_pg = tree_cpu_seconds(pg.pid()) - cpu_pg
        sampler.stop_event.set()
        sampler.join()
        connections.close_all()

        ok = load.status == 201
        latency = load.done - load.due
        busy = machine_busy2 - machine_busy
        elapsed_cpu = (machine_total2 - machine_total) or 1.0
        wall = load.seconds
        statuses = Counter(int(s) for s in load.status)
        result["config"] = {
            "rate_per_s": rate,
            "seconds": seconds,
            "requests": n,
            "persons": persons,
            "by": args.by,
            "server": f"gunicorn {args.worker_class}, {args.workers} workers x {args.threads} threads, keep-alive 30 s",
            "generator": f"open loop, a thread pool of at most {args.max_threads}, http.client keep-alive",
            "warmup_requests": n_warm,
            "cache": "locmem per worker (rate limit counted per worker; partner limit raised)",
        }
        result["latency_from_due_time"] = _ms(latency[ok]) | {"n": int(ok.sum())}
        result["latency_from_send"] = _ms((load.done - load.sent)[ok])
        result["send_lag_behind_schedule"] = _ms(load.sent - load.due)
        result["latency_all_responses"] = _ms(latency)
        result["p95_ms"] = result["latency_from_due_time"].get("p95_ms")
        result["target_met"] = bool(
            result["p95_ms"] is not None
            and result["p95_ms"] <= TARGET_P95_MS
            and ok.all()
            and abs(load.schedule_seconds - seconds) < 1
        )
        result["achieved"] = {
            "completed": int((load.status > 0).sum()),
            "released_201": int(ok.sum()),
            "seconds_first_due_to_last_response": round(wall, 2),
            "schedule_seconds": round(load.schedule_seconds, 2),
            "offered_rate_per_s": round(n / load.schedule_seconds, 2),
            "completed_rate_per_s": round(int((load.status > 0).sum()) / wall, 2),
            "released_rate_per_s": round(int(ok.sum()) / wall, 2),
        }
        # Per second: what was due that second, and how slow it was.
        per_second = []
        for s in range(int(np.ceil(seconds))):
            mask = (load.due >= s) & (load.due < s + 1) & ok
            if mask.any():
                per_second.append(round(float(np.percentile(latency[mask], 95) * 1000), 1))
        result["p95_ms_by_second"] = per_second
        result["statuses"] = {str(k): v for k, v in sorted(statuses.items())}
        result["errors"] = dict(load.errors)
        result["generator_threads_used"] = load.threads_used
        result["reconnects"] = http_.reconnects
        result["cpu_seconds"] = {
            "load_generator": round(cpu_gen, 2),
            "gunicorn_workers": round(cpu_server, 2),
            "postgresql": round(cpu_pg, 2),
            "machine_busy": round(busy, 2),
            "other_processes": round(busy - cpu_gen - cpu_server - cpu_pg, 2),
            "machine_capacity": round(elapsed_cpu, 2),
            "machine_utilisation": round(busy / elapsed_cpu, 3),
            "note": f"all on the same {os.cpu_count()} cores, over {wall:.1f} s",
        }
        result["cpu_ms_per_request"] = {
            "load_generator": round(cpu_gen / n * 1000, 2),
            "gunicorn_workers": round(cpu_server / n * 1000, 2),
            "postgresql": round(cpu_pg / n * 1000, 2),
        }
        result["postgresql_activity"] = sampler.summary()
        released = Release.objects.count() - releases_before
        result["rows_per_release"] = {
            "releases": released,
            "audit_entries": round(
                (AuditEntry.objects.count() - audit_before) / max(released, 1), 2
            ),
            "outbox_messages": round(
                (OutboundMessage.objects.count() - outbox_before) / max(released, 1), 2
            ),
        }
        if load.sample_body:
            result["sample_release"] = _check_release(port, load.sample_body, setup.client_id)
        connections.close_all()
        stop_process(gunicorn)
        gunicorn = None
        if stage_requests:
            result["one_request_in_process"] = _with_machine_share(
                lambda: _stage_timing(setup, token, stage_requests, args.by)
            )
        if args.profile:
            result["profile_in_process"] = _with_machine_share(
                lambda: _profile(setup, token, args.profile, args.by)
            )
        result["setup_seconds"] = setup.seconds
        result["setup_standing_consent"] = (
            "one through the real flow (request, SMS code, code submitted), the rest bulk_create"
            if setup.real_flow_error is None
            else "all bulk_create: the real flow failed: " + setup.real_flow_error
        )
    except BaseException:
        if log.exists():
            sys.stderr.write("gunicorn log (tail):\n" + log.read_text()[-4000:])
        raise
    finally:
        if sampler is not None:
            sampler.stop_event.set()
            sampler.join(5)
        if gunicorn is not None:
            stop_process(gunicorn)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    result["loadavg_start"] = [round(x, 2) for x in load_start]
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["versions"] = {
        name: package_version(name)
        for name in ("django", "gunicorn", "psycopg", "joserfc", "django-ninja")
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
