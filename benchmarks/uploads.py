"""Document uploads: many photos at once, over HTTP, on SQLite and on PostgreSQL.

Run: .venv/bin/python benchmarks/uploads.py                 (100 uploads of 2 MB, both databases)
     .venv/bin/python benchmarks/uploads.py --uploads 20 --databases sqlite   (a smoke run)

The issue's target: "100 concurrent uploads of 2 MB photos handled without an error on
this machine". Prints one JSON object.

For each database, in a temporary directory deleted afterwards (also on failure):

1. PostgreSQL: a cluster of its own on a free 127.0.0.1 port (benchmarks/_machine.py);
   SQLite: a file (WAL, IMMEDIATE transactions, as configured in settings).
2. Setup in a child process with Django: ``migrate``, an enrolment officer of Swat with
   a session, and ``--uploads`` active persons of Swat (``bulk_create``).
3. gunicorn serves the project (``--workers`` gthread workers x ``--threads``), warmed
   up; then ``--uploads`` client threads wait at a barrier and each POSTs one photo for
   its own person to ``/api/v1/documents/`` (multipart, the officer's session and CSRF
   token), all at the same moment, each on its own connection. Latency is from the
   barrier to the whole answer; the photos are real JPEGs of ``--size-mb`` MB (noise over
   shapes, so they do not compress away), each decoded, turned upright, re-encoded,
   encrypted and stored like any upload.
4. A child process checks the result: the version rows, one stored file per version,
   no temporary file left, and one version decrypted back to its recorded SHA-256.

The machine is shared: every figure comes with the load average around it.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _machine import Postgres, free_port, postgres_bindir, stop_process

PROJECT_DIR = Path(__file__).resolve().parent.parent
API_PATH = "/api/v1/documents/"
BOUNDARY = "rahdari-bench-boundary-7f3a"


def make_photo(size_mb: float) -> bytes:
    """A JPEG of about ``size_mb`` MB: a camera-sized picture of shapes under noise."""
    from PIL import Image, ImageDraw

    target = int(size_mb * 1024 * 1024)
    width, height = 1600, 1200
    while True:
        base = Image.new("RGB", (width, height), (200, 190, 170))
        draw = ImageDraw.Draw(base)
        for i in range(0, width, 80):
            draw.rectangle((i, height // 4, i + 40, height * 3 // 4), fill=(40 + i % 200, 90, 60))
        noise = Image.effect_noise((width, height), 48).convert("RGB")
        picture = Image.blend(base, noise, 0.35)
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=92)
        if out.tell() >= target or width > 6000:
            return out.getvalue()
        width, height = int(width * 1.15), int(height * 1.15)


def _multipart(fields: dict[str, str], photo: bytes) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            'filename="IMG_0001.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + photo
        + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


# --------------------------------------------------------------------------- child steps


def _setup(count: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from rahdari.accounts.roles import Role
    from rahdari.accounts.services import roles_sync, staff_create
    from rahdari.core.keyring import blind_index
    from rahdari.core.models import District
    from rahdari.identity.models import Person, PersonStatus

    call_command("migrate", verbosity=0, interactive=False)
    roles_sync()
    swat = District.objects.get(name="Swat")
    officer = staff_create(
        username="bench.officer",
        full_name="Bench Officer",
        password=secrets.token_urlsafe(16),
        roles=[Role.ENROLMENT_OFFICER],
        districts=[swat],
        actor=None,
    )
    session = SessionStore()
    session[SESSION_KEY] = str(officer.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = officer.get_session_auth_hash()
    session.create()
    persons = [
        Person(
            rahdari_number=f"{900_000_000_000 + i}",
            id_document="cnic",
            national_id=f"15202{i:07d}2",
            national_id_index=blind_index("cnic", f"15202{i:07d}2"),
            full_name=f"Bench Person {i}",
            name_key=f"bench-{i}",
            sex="F",
            date_of_birth="1985-01-01",
            birth_year=1985,
            district=swat,
            status=PersonStatus.ACTIVE,
        )
        for i in range(count)
    ]
    Person.objects.bulk_create(persons)
    return {"session": session.session_key, "persons": [str(p.pk) for p in persons]}


def _verify() -> dict[str, Any]:
    import django

    django.setup()
    from rahdari.documents import services, storage
    from rahdari.documents.models import DocumentVersion

    versions = list(DocumentVersion.objects.select_related("document__person"))
    location = Path(storage.document_storage().path(""))
    files = [p for p in location.rglob("*") if p.is_file()]
    temporary = storage.temporary_names()
    sample_ok = None
    if versions:
        officer = versions[0].uploaded_by
        assert officer is not None
        content = services.document_version_open(version=versions[0], actor=officer)
        sample_ok = hashlib.sha256(content).hexdigest() == versions[0].sha256
    return {
        "versions": len(versions),
        "stored_files": len(files),
        "temporary_files_left": len(temporary),
        "sample_decrypts_to_its_sha256": sample_ok,
        "stored_bytes": sum(v.size for v in versions),
        "uploaded_bytes": sum(v.original_size for v in versions),
    }


def _child(step: str, env: dict[str, str], *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, f"--{step}", *extra],
        cwd=PROJECT_DIR,
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{step} failed:\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- the run


def _gunicorn(port: int, workers: int, threads: int, env: dict[str, str], log: Path) -> Any:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "rahdari.config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--backlog",
        "2048",
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        "--error-logfile",
        str(log),
    ]
    return subprocess.Popen(
        command, cwd=PROJECT_DIR, env=os.environ | env, stdin=subprocess.DEVNULL
    )


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _wait_until_serving(port: int, process: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            _get(port, "/api/v1/documents/mine")
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


def _upload_all(port: int, session: str, persons: list[str], photo: bytes) -> dict[str, Any]:
    csrf = secrets.token_hex(16)  # 32 characters: Django accepts the unmasked secret
    headers = {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Cookie": f"sessionid={session}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
    }
    bodies = [_multipart({"kind": "photo", "person_id": p}, photo) for p in persons]
    barrier = threading.Barrier(len(persons) + 1)
    results: list[tuple[int, float, str]] = [(0, 0.0, "")] * len(persons)
    started = [0.0]

    def one(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            conn.connect()
            barrier.wait()
            conn.request("POST", API_PATH, body=bodies[i], headers=headers)
            response = conn.getresponse()
            body = response.read()
            code = ""
            if response.status != 201:
                try:
                    code = json.loads(body)["error"]["code"]
                except (ValueError, KeyError):
                    code = body[:80].decode("utf-8", "replace")
            results[i] = (response.status, time.perf_counter() - started[0], code)
        except OSError as exc:
            results[i] = (0, time.perf_counter() - started[0], type(exc).__name__)
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(persons))]
    for thread in threads:
        thread.start()
    load_before = os.getloadavg()[0]
    started[0] = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started[0]
    latencies = sorted(r[1] for r in results)
    errors: dict[str, int] = {}
    for status, _latency, code in results:
        if status != 201:
            key = f"{status} {code}".strip()
            errors[key] = errors.get(key, 0) + 1
    return {
        "uploads": len(persons),
        "ok": sum(1 for r in results if r[0] == 201),
        "errors": errors,
        "latency_s": {
            "p50": round(statistics.median(latencies), 3),
            "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
            "max": round(latencies[-1], 3),
        },
        "wall_s": round(wall, 3),
        "throughput_uploads_per_s": round(len(persons) / wall, 2),
        "throughput_mb_per_s": round(len(persons) * len(photo) / wall / 1024 / 1024, 2),
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }


def _run_one(database: str, tmp: Path, args: argparse.Namespace, photo: bytes) -> dict[str, Any]:
    root = tmp / database
    root.mkdir()
    root.chmod(0o755)
    postgres = None
    gunicorn = None
    log = root / "gunicorn.log"
    try:
        if database == "postgresql":
            postgres = Postgres(
                root / "pg", free_port(), postgres_bindir(), durable=False, max_connections=200
            )
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
        setup = _child("setup", env, str(args.uploads))
        port = free_port()
        gunicorn = _gunicorn(port, args.workers, args.threads, env, log)
        _wait_until_serving(port, gunicorn, 60)
        for _ in range(args.workers * args.threads * 2):  # every worker imports the app
            _get(port, "/api/v1/documents/mine")
        figures = _upload_all(port, setup["session"], setup["persons"], photo)
        stop_process(gunicorn)
        gunicorn = None
        figures["check"] = _child("verify", env)
        figures["server"] = f"gunicorn gthread, {args.workers} workers x {args.threads} threads"
        if postgres is not None:
            figures["postgres"] = postgres.version()
        return figures
    except Exception:
        if log.exists():
            sys.stderr.write("gunicorn log (tail):\n" + log.read_text()[-4000:])
        raise
    finally:
        if gunicorn is not None:
            stop_process(gunicorn)
        if postgres is not None:
            postgres.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--size-mb", type=float, default=2.0)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--setup", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--verify", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.setup is not None:
        print(json.dumps(_setup(args.setup)))
        return 0
    if args.verify:
        print(json.dumps(_verify()))
        return 0

    photo = make_photo(args.size_mb)
    tmp = Path(tempfile.mkdtemp(prefix="rahdari-uploads-"))
    tmp.chmod(0o755)  # the postgres user must reach its data directory inside
    try:
        results = {
            database: _run_one(database, tmp, args, photo) for database in args.databases.split(",")
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "uploads",
                "photo_bytes": len(photo),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "note": "shared machine: other work ran beside this; see load_average_1m",
                },
                "results": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
