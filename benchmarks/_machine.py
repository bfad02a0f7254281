"""What the benchmarks share: a throw-away PostgreSQL cluster of their own on a free
127.0.0.1 port, and CPU accounting from /proc (every figure says how busy the machine
was). Not a test helper: only the scripts in benchmarks/ import it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Postgres:
    """A cluster in ``root`` (initdb as ``postgres`` when run as root), fsync off unless
    ``durable``, as in scripts/with-postgres.sh."""

    root: Path
    port: int
    bindir: Path
    durable: bool
    max_connections: int = 100
    # More server settings, e.g. production_settings(): "-c name=value" each.
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgres://rahdari@127.0.0.1:{self.port}/rahdari"

    def start(self) -> None:
        self.root.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            as_postgres(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "rahdari",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.launch()
        subprocess.run(
            as_postgres(
                [
                    str(self.bindir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "rahdari",
                    "rahdari",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def launch(self) -> None:
        """Start the server of a cluster already made (by ``start``, kept from a run)."""
        durability = (
            "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
            if self.durable
            else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} {durability}"
            f" -c max_connections={self.max_connections}"
        ) + "".join(f" -c {name}={value}" for name, value in self.settings.items())
        subprocess.run(
            as_postgres(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "-o",
                    options,
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                as_postgres(
                    [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )

    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def version(self) -> str:
        out = subprocess.run(
            [str(self.bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()


def production_settings() -> dict[str, str]:
    """The memory settings docs/operations.md recommends for a PostgreSQL server, sized
    from this machine's memory: a quarter of it as shared buffers, three quarters as the
    planner's cache estimate, room for the WAL between checkpoints, the costs of an SSD.
    (The cluster's own
    defaults — 128 MB of shared buffers, checkpoints every 1 GB of WAL — are initdb's
    minimum-footprint values, not what a server is run with.)"""
    mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return {
        "shared_buffers": f"{mb // 4}MB",
        "effective_cache_size": f"{mb * 3 // 4}MB",
        "maintenance_work_mem": f"{min(2048, mb // 16)}MB",
        "work_mem": "32MB",
        "wal_buffers": "64MB",
        "max_wal_size": "8GB",
        "min_wal_size": "1GB",
        "checkpoint_timeout": "15min",
        "checkpoint_completion_target": "0.9",
        # Solid-state disks: a page read out of order costs about what one in order does.
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
    }


def postgres_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name or 0))
    if not found or not (found[-1] / "initdb").exists():
        raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
    return found[-1]


def proc_stat(pid: int) -> tuple[int, list[str]] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), fields  # ppid, fields from "state" on


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds of a process, its reaped children and its live children.

    A gunicorn master or a postmaster: workers and backends are its direct children;
    the time of those that exited is in the parent's cutime/cstime.
    """
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = proc_stat(pid)
        if stat is None:
            continue
        ppid, f = stat
        # f[11] utime, f[12] stime, f[13] cutime, f[14] cstime (man 5 proc, minus 3).
        if pid == root_pid:
            total += sum(int(x) for x in f[11:15])
        elif ppid == root_pid:
            total += int(f[11]) + int(f[12])
    return total / CLK_TCK


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already in user
    return (total - idle) / CLK_TCK, total / CLK_TCK


def stolen_cpu() -> float:
    """CPU seconds the hypervisor gave this virtual machine's cores to others since boot
    (/proc/stat's steal): the cores were busy for us but ran someone else's work. It
    counts as busy in machine_cpu(); a figure with much of it waited on the host."""
    values = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return int(values[7]) / CLK_TCK


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


PROJECT_DIR = Path(__file__).resolve().parent.parent


def revision(paths: list[str]) -> dict[str, object]:
    """The commit measured, and which of ``paths`` differ from it (others work in the
    same tree: a figure belongs to the code it ran)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *paths],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None}
    return {"commit": head, "uncommitted_changes": [line[3:] for line in dirty if line.strip()]}


def package_version(distribution: str) -> str | None:
    """An installed distribution's version, or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not gone within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
