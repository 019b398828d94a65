#!/usr/bin/env bash
# Install the Debian packages that lake needs and that pip cannot provide.
#
#   scripts/setup_system.sh            Java 17+ (Spark 4) and python3-venv
#   scripts/setup_system.sh --with-db  ... plus PostgreSQL and MariaDB server (JDBC tests)
#
# Idempotent and silent when everything is present. As root it runs `apt-get update`
# (only when something is missing) and installs. As another user it prints the exact
# apt-get command to run and exits 1.
set -euo pipefail

with_db=0
for arg in "$@"; do
    case "$arg" in
        --with-db) with_db=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "setup_system.sh: unknown argument '$arg' (expected --with-db)" >&2; exit 2 ;;
    esac
done

missing=()

java_major() {
    # `java -version` prints `openjdk version "17.0.15"` or, for Java 8, `"1.8.0_392"`.
    local v
    v=$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)
    [ -n "$v" ] || { echo 0; return; }
    case "$v" in
        1.*) echo "$v" | cut -d. -f2 ;;
        *) echo "$v" | cut -d. -f1 | cut -d- -f1 ;;
    esac
}

if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
    missing+=(openjdk-17-jre-headless)
fi

venv_probe=$(mktemp -d)
if ! python3 -m venv --without-pip "$venv_probe/v" >/dev/null 2>&1 \
    || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
rm -rf "$venv_probe"

if [ "$with_db" = 1 ]; then
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        missing+=(postgresql)
    fi
    has_server=0; has_installer=0
    { [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]; } && has_server=1
    { command -v mariadb-install-db || command -v mysql_install_db; } >/dev/null 2>&1 && has_installer=1
    if [ "$has_server" = 0 ] || [ "$has_installer" = 0 ]; then
        missing+=(mariadb-server)
    fi
fi

[ "${#missing[@]}" -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "setup_system.sh: missing system packages: ${missing[*]}" >&2
    echo "run as root:  $cmd" >&2
    exit 1
fi

echo "setup_system.sh: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# With --with-db, Debian may also start system-wide servers on the default ports. lake does
# not use them (scripts/db/*.sh run private servers on other ports) and leaves them alone.
echo "setup_system.sh: done" >&2
