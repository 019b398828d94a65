#!/usr/bin/env bash
# A private PostgreSQL server for lake's JDBC tests and demos.
#
#   scripts/db/postgres.sh start|stop|status|url
#
# start   initialise on first use (initdb), start on 127.0.0.1:$PG_PORT (default 55432),
#         create database `cooperative` and user `lake` (password: $LAKE_DB_PASSWORD,
#         default `lake`; the user may create databases). Idempotent: an already running
#         server is left as is (its user/password/database are re-ensured).
#         Waits until connections are accepted ($LAKE_DB_START_TIMEOUT s, default 60).
# stop    stop the server of this data dir (and only it).
# status  exit 0 and print `running ...` if up, else print `stopped` and exit 3.
# url     print the JDBC URL, e.g. jdbc:postgresql://127.0.0.1:55432/cooperative
#
# PostgreSQL refuses to run as root: as root, the server runs as the system user `lakepg`
# (created if missing). The data dir is <repo>/.run/postgres when `lakepg` can reach it,
# otherwise /tmp/lake-run-<uid>/postgres. Binaries: /usr/lib/postgresql/<newest>/bin
# (or $PG_BIN). Missing binaries: run scripts/setup_system.sh --with-db.
set -euo pipefail
PROG=postgres.sh
. "$(dirname "$0")/_common.sh"

PG_PORT=${PG_PORT:-55432}
PG_OS_USER=${LAKE_PG_OS_USER:-lakepg}

find_bin() {
    if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
    die "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH); run scripts/setup_system.sh --with-db"
}

# Run a command as the server's OS user (lakepg when root, else the caller).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        "$@"
    fi
}

ensure_os_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    id "$PG_OS_USER" >/dev/null 2>&1 && return 0
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$PG_OS_USER" \
        || die "cannot create system user $PG_OS_USER"
}

# The data dir must be reachable by the server's OS user: <repo>/.run when every parent is
# traversable by it, else a per-uid folder under /tmp. Decided the same way on every call.
resolve_base() {
    if [ "$(id -u)" -ne 0 ]; then echo "$RUN_DIR"; return; fi
    if [ -d "$RUN_DIR" ] && runuser -u "$PG_OS_USER" -- test -x "$RUN_DIR" 2>/dev/null; then
        echo "$RUN_DIR"; return
    fi
    # .run may not exist yet: its parent must be traversable and .run will be made 0755.
    if [ ! -e "$RUN_DIR" ] && runuser -u "$PG_OS_USER" -- test -x "$(dirname "$RUN_DIR")" 2>/dev/null; then
        echo "$RUN_DIR"; return
    fi
    echo "/tmp/lake-run-$(id -u)"
}

# The unix socket lives in the data dir; its path is limited to ~107 bytes.
socket_dir() {
    local sock="$PGDATA_DIR/.s.PGSQL.$PG_PORT"
    if [ "${#sock}" -gt 100 ]; then echo "/tmp/lake-run-$(id -u)/pgsock"; else echo "$PGDATA_DIR"; fi
}

BIN=$(find_bin)
ensure_os_user
BASE=$(resolve_base)
PGDATA_DIR=$BASE/postgres
LOG=$BASE/postgres.log
SOCK_DIR=$(socket_dir)

is_running() {
    [ -f "$PGDATA_DIR/PG_VERSION" ] && as_pg "$BIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

psql_admin() {
    # Superuser over the unix socket in the data dir (trust auth, local only).
    as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PG_PORT" -U postgres "$@"
}

init_cluster() {
    mkdir -p "$BASE"
    chmod 0755 "$BASE"
    mkdir -p "$PGDATA_DIR"
    if [ "$(id -u)" -eq 0 ]; then chown "$PG_OS_USER:" "$PGDATA_DIR"; fi
    chmod 0700 "$PGDATA_DIR"
    echo "$PROG: initialising $PGDATA_DIR" >&2
    local out
    if ! out=$(as_pg "$BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 2>&1); then
        echo "$out" >&2
        die "initdb failed for $PGDATA_DIR"
    fi
}

ensure_db() {
    local pw
    pw=$(sql_quote "$DB_PASSWORD")
    psql_admin -d postgres <<SQL || die "could not create user/database (see above)"
SELECT format('CREATE ROLE %I LOGIN CREATEDB', '$DB_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') \gexec
ALTER ROLE $DB_USER WITH LOGIN CREATEDB PASSWORD $pw;
SELECT format('CREATE DATABASE %I OWNER %I', '$DB_NAME', '$DB_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB_NAME') \gexec
SQL
}

cmd_start() {
    if is_running; then
        ensure_db
        echo "postgres: already running on 127.0.0.1:$PG_PORT (data $PGDATA_DIR)"
        return 0
    fi
    [ -f "$PGDATA_DIR/PG_VERSION" ] || init_cluster
    if port_busy "$PG_PORT"; then
        die "port $PG_PORT is already taken by another process; set PG_PORT to a free port"
    fi
    touch "$LOG"
    mkdir -p "$SOCK_DIR"
    if [ "$(id -u)" -eq 0 ]; then chown "$PG_OS_USER:" "$LOG" "$SOCK_DIR"; fi
    if ! as_pg "$BIN/pg_ctl" start -D "$PGDATA_DIR" -l "$LOG" -w -t "$START_TIMEOUT" \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SOCK_DIR" >/dev/null 2>&1; then
        echo "$PROG: PostgreSQL failed to start or did not accept connections on 127.0.0.1:$PG_PORT within ${START_TIMEOUT}s" >&2
        log_tail "$LOG"
        exit 1
    fi
    # pg_ctl -w also waits for the socket; check TCP as clients will use it.
    local i
    for i in $(seq 1 "$START_TIMEOUT"); do
        "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
        sleep 1
    done
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || { log_tail "$LOG"; die "not reachable over TCP"; }
    ensure_db
    echo "postgres: started on 127.0.0.1:$PG_PORT (data $PGDATA_DIR, log $LOG)"
}

cmd_stop() {
    if ! is_running; then
        echo "postgres: not running"
        return 0
    fi
    as_pg "$BIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t "$START_TIMEOUT" >/dev/null
    echo "postgres: stopped"
}

cmd_status() {
    if is_running; then
        echo "running on 127.0.0.1:$PG_PORT (pid $(head -n1 "$PGDATA_DIR/postmaster.pid"), data $PGDATA_DIR)"
        return 0
    fi
    echo "stopped"
    return 3
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) echo "jdbc:postgresql://127.0.0.1:$PG_PORT/$DB_NAME" ;;
    datadir) echo "$PGDATA_DIR" ;;
    *) echo "usage: $0 start|stop|status|url|datadir" >&2; exit 2 ;;
esac
