#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1, run the given command
# with RAHDARI_DATABASE_URL pointing at it, then stop and remove the server.
# initdb refuses root, so the cluster runs as the `postgres` system user.
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
port=${RAHDARI_PG_PORT:-55432}
dir=$(mktemp -d /tmp/rahdari-pg.XXXXXX)
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$dir"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
cleanup() {
  as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
as_pg "$bindir/initdb" -D "$dir/data" -U rahdari --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" start >/dev/null
export RAHDARI_DATABASE_URL="postgres://rahdari@127.0.0.1:$port/rahdari"
as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U rahdari rahdari
"$@"
