"""The officer work queue of applications: server time of one page, on SQLite and on
PostgreSQL.

Run: .venv/bin/python benchmarks/application_queue.py             (10,000 pending, both databases)
     .venv/bin/python benchmarks/application_queue.py --applications 1000 --databases sqlite
     .venv/bin/python benchmarks/application_queue.py --profile    (adds a cProfile of the default page)

The issue's target: "the officer queue of 10,000 pending applications renders a page in
≤ 200 ms server time with a fixed number of queries". Prints one JSON object.

For each database, in a temporary directory deleted afterwards (also on failure):

1. PostgreSQL: a cluster of its own on a free 127.0.0.1 port (benchmarks/_machine.py);
   SQLite: a file (WAL, IMMEDIATE transactions, as configured in settings).
2. In a child process with Django (DEBUG off, demo profile): ``migrate``, the roles, a
   program officer of Swat who also reviews corrections, ``--applications`` active
   persons of Swat and one pending data-correction application each (the database allows
   one open correction per person): submitted / under review / appealed in turn, sent
   and moved over the last 20 days, due by the service level of ``rules.STEP_DAYS`` (so
   some are overdue), a reviewer on those taken up, ~10 % applied at the office; plus
   300 decided ones (approved / rejected), which "pending" leaves out. ``bulk_create``
   in chunks; on PostgreSQL then ``VACUUM ANALYZE`` (what autovacuum does soon after).
3. The same child times requests in-process with ``django.test.Client`` (the whole
   Django request: middleware, session, queries, template rendering; no network, no
   WSGI server): for each variant 3 warm-up GETs, then 30 timed ones; the queries of one
   more are captured. First with a tenth of the applications (default page only), then
   with all of them (every variant): the query count must not grow with the queue.

The machine is shared: the load average before and after comes with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _machine import Postgres, free_port, postgres_bindir

PROJECT_DIR = Path(__file__).resolve().parent.parent
QUEUE = "/applications/queue/"
API = "/api/v1/applications/queue/"
TARGET_MS = 200
DECIDED = 300
CHUNK = 2000
NUMBERS: set[str] = set()  # tracking numbers given out in this process
WARM_UP = 3
TIMED = 30

# name -> (path, extra request headers)
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "default": (QUEUE, {}),
    "oldest": (QUEUE + "?sort=oldest", {}),
    "overdue": (QUEUE + "?overdue=on", {}),
    "appealed_by_number": (QUEUE + "?status=appealed&sort=number", {}),
    "page_100": (QUEUE + "?page=100", {}),
    "htmx_partial": (QUEUE, {"HTTP_HX_REQUEST": "true"}),
    "api": (API, {}),
}


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# --------------------------------------------------------------------------- child steps


def _officer() -> Any:
    from django.contrib.auth.models import Permission

    from rahdari.accounts.roles import Role
    from rahdari.accounts.services import staff_create
    from rahdari.core.models import District

    officer = staff_create(
        username="bench.officer",
        full_name="Bench Officer",
        password=secrets.token_urlsafe(16),
        roles=[Role.PROGRAM_OFFICER],
        districts=[District.objects.get(name="Swat")],
        actor=None,
    )
    officer.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="applications", codename="review_corrections"
        )
    )
    return officer


def _persons(count: int) -> list[Any]:
    from rahdari.core.keyring import blind_index
    from rahdari.core.models import District
    from rahdari.identity.models import Person, PersonStatus

    swat = District.objects.get(name="Swat")
    persons = [
        Person(
            rahdari_number=f"{900_000_000_000 + i}",
            id_document="cnic",
            national_id=f"15202{i:07d}2",
            national_id_index=blind_index("cnic", f"15202{i:07d}2"),
            full_name=f"Bench Person {i}",
            full_name_ur=f"بینچ شخص {i}",
            name_key=f"bench-{i}",
            sex="F",
            date_of_birth="1985-01-01",
            birth_year=1985,
            district=swat,
            status=PersonStatus.ACTIVE,
        )
        for i in range(count)
    ]
    for start in range(0, count, CHUNK):
        Person.objects.bulk_create(persons[start : start + CHUNK])
    return persons


def _applications(persons: list[Any], first: int, officers: list[Any], *, decided: bool) -> int:
    """One application for each of ``persons`` (their index from ``first`` on): pending
    ones, or decided ones (approved / rejected) when ``decided``."""
    from datetime import timedelta

    from django.utils import timezone

    from rahdari.applications import rules
    from rahdari.applications.models import Application
    from rahdari.core.tracking import new_tracking_number

    now = timezone.now()
    pending = ("submitted", "under_review", "appealed")
    rows = []
    for offset, person in enumerate(persons):
        i = first + offset
        number = new_tracking_number("application")
        while number in NUMBERS:  # 10,300 of 10^8: a repeat is likely (birthdays)
            number = new_tracking_number("application")
        NUMBERS.add(number)
        changed = now - timedelta(days=i % 20, hours=(i * 7) % 24, minutes=i % 60)
        status = ("approved", "rejected")[i % 2] if decided else pending[i % 3]
        rows.append(
            Application(
                number=number,
                kind="correction",
                person=person,
                district_id=person.district_id,
                status=status,
                status_changed_at=changed,
                submitted_at=changed - timedelta(days=(i % 4) if status != "submitted" else 0),
                due_at=None if decided else rules.due_at(status, changed),
                decided_at=changed if decided else None,
                reviewer=None if status == "submitted" else officers[i % len(officers)],
                created_by=officers[0],
                assisted=i % 10 == 0,
            )
        )
    for start in range(0, len(rows), CHUNK):
        Application.objects.bulk_create(rows[start : start + CHUNK])
    return len(rows)


def _analyze() -> None:
    """PostgreSQL: the statistics autovacuum would gather after such a load (a minute
    later); measured without them, the planner takes the queue for one row."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def _time(client: Any, path: str, headers: dict[str, str]) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARM_UP):
        response = client.get(path, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.content[:300]!r}")
    timings = []
    for _ in range(TIMED):
        started = time.perf_counter()
        response = client.get(path, **headers)
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    timings.sort()
    body = response.content
    if path.startswith(API):
        answer = json.loads(body)
        rows = len(answer["results"])
        count = answer["count"]
    else:
        html = body.decode()
        rows = html.count('name="application"')
        marker = 'data-count="'
        at = html.find(marker)
        count = int(html[at + len(marker) : html.index('"', at + len(marker))]) if at >= 0 else None
    return {
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
        "max_ms": round(timings[-1], 1),
        "queries": len(queries),
        "bytes": len(body),
        "rows": rows,
        "shows_50_rows": rows == 50,
        "matching": count,
    }


def _profile(client: Any, path: str, requests: int = 10) -> list[str]:
    """The functions the default page spends its time in (cumulative, top 25)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(path)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    out_tottime = io.StringIO()
    pstats.Stats(profiler, stream=out_tottime).sort_stats("tottime").print_stats(20)
    return [f"{requests} requests"] + [
        line for line in (out.getvalue() + out_tottime.getvalue()).splitlines() if line.strip()
    ]


def _measure(count: int, profile: bool) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from rahdari.accounts.services import roles_sync

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    roles_sync()
    officer = _officer()
    persons = _persons(count + DECIDED)
    small = max(1, count // 10)
    # The decided ones belong to persons without a pending one (any would do).
    made = _applications(persons[count:], count, [officer], decided=True)
    made += _applications(persons[:small], 0, [officer], decided=False)
    _analyze()
    setup_s = time.perf_counter() - started

    client = Client(SERVER_NAME="127.0.0.1")  # an allowed host with DEBUG off
    client.force_login(officer)
    tenth = {"applications_pending": small, **_time(client, *VARIANTS["default"])}

    started = time.perf_counter()
    made += _applications(persons[small:count], small, [officer], decided=False)
    _analyze()
    setup_s += time.perf_counter() - started
    figures: dict[str, Any] = {
        "applications_pending": count,
        "applications_decided": DECIDED,
        "applications_made": made,
        "setup_s": round(setup_s, 1),
        "variants": {
            name: _time(client, path, headers) for name, (path, headers) in VARIANTS.items()
        },
        "default_page_with_a_tenth": tenth,
    }
    default = figures["variants"]["default"]
    figures["queries_same_at_a_tenth"] = tenth["queries"] == default["queries"]
    if profile:
        figures["profile_default_page"] = _profile(client, QUEUE)
    return figures


def _child(env: dict[str, str], *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *extra],
        cwd=PROJECT_DIR,
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"measure failed:\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- the run


def _run_one(database: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    root = tmp / database
    root.mkdir()
    root.chmod(0o755)
    postgres = None
    try:
        if database == "postgresql":
            postgres = Postgres(root / "pg", free_port(), postgres_bindir(), durable=False)
            postgres.start()
            url = postgres.url
        else:
            url = f"sqlite:///{root / 'rahdari.sqlite3'}"
        env = {
            "RAHDARI_ENV": "demo",
            "RAHDARI_DEBUG": "0",
            "RAHDARI_VAR_DIR": str(root / "var"),
            "RAHDARI_DATABASE_URL": url,
            "RAHDARI_LOG_LEVEL": "WARNING",
            "RAHDARI_NID_LATENCY_MS": "0",
            "DJANGO_SETTINGS_MODULE": "rahdari.config.settings",
        }
        before = loadavg()
        extra = ["--measure", str(args.applications)] + (["--profile"] if args.profile else [])
        figures = _child(env, *extra)
        figures["load_average"] = {"before": before, "after": loadavg()}
        default = figures["variants"]["default"]
        figures["target_ms"] = TARGET_MS
        figures["met"] = bool(
            default["p95_ms"] <= TARGET_MS
            and default["shows_50_rows"]
            and figures["queries_same_at_a_tenth"]
        )
        if postgres is not None:
            figures["postgres"] = postgres.version()
        return figures
    finally:
        if postgres is not None:
            postgres.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--profile", action="store_true", help="add a cProfile of the default page")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(_measure(args.measure, args.profile)))
        return 0

    load_before = loadavg()
    tmp = Path(tempfile.mkdtemp(prefix="rahdari-queue-"))
    tmp.chmod(0o755)  # the postgres user must reach its data directory inside
    try:
        results = {
            database: _run_one(database, tmp, args) for database in args.databases.split(",")
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "application_queue",
                "target": "10,000 pending: a page in <= 200 ms server time, fixed queries",
                "target_ms": TARGET_MS,
                "timing": f"django.test.Client in-process, {WARM_UP} warm-up + {TIMED} timed GETs",
                "machine": {
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average": {"before": load_before, "after": loadavg()},
                    "note": "shared machine: other work ran beside this; see load_average",
                },
                "results": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
