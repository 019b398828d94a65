#!/usr/bin/env bash
# A private MariaDB server for lake's JDBC tests and demos.
#
#   scripts/db/mariadb.sh start|stop|status|url
#
# start   initialise on first use (mariadb-install-db), start on 127.0.0.1:$MARIADB_PORT
#         (default 53306), create database `cooperative` and user `lake` (password:
#         $LAKE_DB_PASSWORD, default `lake`; local test server, so `lake` gets all
#         privileges and can create the throw-away test databases). Idempotent: an already
#         running server is left as is (its user/password/database are re-ensured). Waits
#         until connections are accepted ($LAKE_DB_START_TIMEOUT s, default 60).
# stop    stop the server started by this script (pid file), and only it.
# status  exit 0 and print `running ...` if up, else print `stopped` and exit 3.
# url     print the JDBC URL, e.g. jdbc:mariadb://127.0.0.1:53306/cooperative
#
# Data dir <repo>/.run/mariadb. The server ignores every my.cnf (--no-defaults). As root
# it runs with --user=root; the admin account is the OS user over the unix socket.
# Missing binaries: run scripts/setup_system.sh --with-db.
set -euo pipefail
PROG=mariadb.sh
. "$(dirname "$0")/_common.sh"

MARIADB_PORT=${MARIADB_PORT:-53306}
DATA_DIR=$RUN_DIR/mariadb
SOCKET=$RUN_DIR/mariadb.sock
# A unix socket path is limited to ~107 bytes: deep checkouts put it under /tmp instead.
if [ "${#SOCKET}" -gt 100 ]; then SOCKET=/tmp/lake-run-$(id -u)/mariadb-$MARIADB_PORT.sock; fi
PID_FILE=$RUN_DIR/mariadb.pid
LOG=$RUN_DIR/mariadb.log

first_of() {
    local c
    for c in "$@"; do
        if [ -x "$c" ]; then echo "$c"; return 0; fi
        if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
    done
    return 1
}

SERVER=$(first_of /usr/sbin/mariadbd /usr/sbin/mysqld mariadbd mysqld) \
    || die "MariaDB server binary not found (mariadbd/mysqld in /usr/sbin or PATH); run scripts/setup_system.sh --with-db"
INSTALL_DB=$(first_of mariadb-install-db mysql_install_db) \
    || die "mariadb-install-db not found; run scripts/setup_system.sh --with-db"
CLIENT=$(first_of mariadb mysql) || die "mariadb client not found; run scripts/setup_system.sh --with-db"
ADMIN_USER=$(id -un)
USER_OPT=()
if [ "$(id -u)" -eq 0 ]; then USER_OPT=(--user=root); fi

our_pid() {
    # The pid from our pid file, if that process is alive and is a server of our data dir.
    [ -f "$PID_FILE" ] || return 1
    local pid
    pid=$(tr -dc '0-9' <"$PID_FILE")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--datadir=$DATA_DIR" || return 1
    echo "$pid"
}

client_admin() { "$CLIENT" --no-defaults --protocol=socket -S "$SOCKET" -u "$ADMIN_USER" "$@"; }

ensure_db() {
    local pw
    pw=$(sql_quote_mysql "$DB_PASSWORD")
    client_admin <<SQL || die "could not create user/database (see above)"
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY $pw;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY $pw;
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY $pw;
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY $pw;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
}

init_db() {
    mkdir -p "$DATA_DIR"
    echo "$PROG: initialising $DATA_DIR" >&2
    local out
    if ! out=$("$INSTALL_DB" --no-defaults --datadir="$DATA_DIR" "${USER_OPT[@]}" \
        --auth-root-authentication-method=socket --skip-test-db 2>&1); then
        echo "$out" | tail -n 25 >&2
        rm -rf "$DATA_DIR"
        die "mariadb-install-db failed for $DATA_DIR"
    fi
}

cmd_start() {
    if our_pid >/dev/null; then
        ensure_db
        echo "mariadb: already running on 127.0.0.1:$MARIADB_PORT (data $DATA_DIR)"
        return 0
    fi
    mkdir -p "$RUN_DIR" "$(dirname "$SOCKET")"
    [ -d "$DATA_DIR/mysql" ] || init_db
    if port_busy "$MARIADB_PORT"; then
        die "port $MARIADB_PORT is already taken by another process; set MARIADB_PORT to a free port"
    fi
    rm -f "$PID_FILE" "$SOCKET"
    # setsid: the server must not die with the calling shell or test session's process group.
    setsid "$SERVER" --no-defaults --datadir="$DATA_DIR" "${USER_OPT[@]}" \
        --bind-address=127.0.0.1 --port="$MARIADB_PORT" --socket="$SOCKET" \
        --pid-file="$PID_FILE" --log-error="$LOG" --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --max-allowed-packet=256M --innodb-buffer-pool-size=256M \
        --innodb-flush-log-at-trx-commit=2 </dev/null >/dev/null 2>&1 &
    local launcher=$! i
    for i in $(seq 1 $((START_TIMEOUT * 2))); do
        if client_admin -e 'SELECT 1' >/dev/null 2>&1; then break; fi
        if ! kill -0 "$launcher" 2>/dev/null; then
            echo "$PROG: MariaDB exited during start-up" >&2
            log_tail "$LOG"
            exit 1
        fi
        sleep 0.5
    done
    if ! client_admin -e 'SELECT 1' >/dev/null 2>&1; then
        echo "$PROG: MariaDB did not accept connections within ${START_TIMEOUT}s" >&2
        log_tail "$LOG"
        exit 1
    fi
    ensure_db
    echo "mariadb: started on 127.0.0.1:$MARIADB_PORT (data $DATA_DIR, log $LOG)"
}

cmd_stop() {
    local pid i
    if ! pid=$(our_pid); then
        echo "mariadb: not running"
        return 0
    fi
    kill -TERM "$pid"
    for i in $(seq 1 $((START_TIMEOUT * 2))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then die "server pid $pid did not stop within ${START_TIMEOUT}s"; fi
    rm -f "$PID_FILE"
    echo "mariadb: stopped"
}

cmd_status() {
    local pid
    if pid=$(our_pid); then
        echo "running on 127.0.0.1:$MARIADB_PORT (pid $pid, data $DATA_DIR)"
        return 0
    fi
    echo "stopped"
    return 3
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) echo "jdbc:mariadb://127.0.0.1:$MARIADB_PORT/$DB_NAME" ;;
    datadir) echo "$DATA_DIR" ;;
    *) echo "usage: $0 start|stop|status|url|datadir" >&2; exit 2 ;;
esac
