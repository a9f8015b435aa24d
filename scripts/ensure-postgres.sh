#!/usr/bin/env bash
# Make sure a real PostgreSQL answers on 127.0.0.1:5432 with user postgres/postgres and a database "test".
# Idempotent: safe on machines that already run PostgreSQL (trust or password auth) and on bare ones.
set -euo pipefail
HOST=127.0.0.1
PORT=5432
export PGPASSWORD=postgres

as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else sudo -u postgres sh -c "$*"; fi; }

if ! pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; then
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "ensure-postgres: installing PostgreSQL from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
  fi
  ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^$ver main$"; then
    pg_createcluster "$ver" main >/dev/null
  fi
  pg_ctlcluster "$ver" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h "$HOST" -p "$PORT" && break; sleep 1; done
fi

if ! pg_isready -q -h "$HOST" -p "$PORT"; then
  echo "ensure-postgres: PostgreSQL does not answer on $HOST:$PORT" >&2
  exit 1
fi

# Password for the postgres role (needed where local TCP uses md5/scram); harmless under trust auth.
if ! psql -h "$HOST" -p "$PORT" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  as_postgres "psql -qc \"alter role postgres with password 'postgres'\"" >/dev/null
fi
if ! psql -h "$HOST" -p "$PORT" -U postgres -d postgres -Atqc "select 1 from pg_database where datname='test'" | grep -q 1; then
  psql -h "$HOST" -p "$PORT" -U postgres -d postgres -qc 'create database test' >/dev/null
fi
psql -h "$HOST" -p "$PORT" -U postgres -d test -Atqc 'select 1' >/dev/null
echo "ensure-postgres: postgres://postgres:postgres@$HOST:$PORT/test answers" >&2
