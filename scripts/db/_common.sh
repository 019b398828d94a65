# Shared helpers of scripts/db/postgres.sh and scripts/db/mariadb.sh (sourced, not run).

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Private servers keep their data, logs and pid files here (git-ignored).
RUN_DIR=${LAKE_RUN_DIR:-$REPO_ROOT/.run}
START_TIMEOUT=${LAKE_DB_START_TIMEOUT:-60}
# Password of the `lake` user on the local test servers. Default `lake`: these servers
# listen on 127.0.0.1 only and hold generated data. Set LAKE_DB_PASSWORD for anything else.
DB_PASSWORD=${LAKE_DB_PASSWORD:-lake}
DB_NAME=cooperative
DB_USER=lake

die() { echo "$PROG: $*" >&2; exit 1; }

# Print the last lines of a server log to stderr (for start failures).
log_tail() {
    local log=$1
    if [ -f "$log" ]; then
        echo "--- last lines of $log ---" >&2
        tail -n 25 "$log" >&2
        echo "---" >&2
    else
        echo "(no server log at $log)" >&2
    fi
}

# SQL string literal: double the single quotes (and, for MySQL, the backslashes).
sql_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
sql_quote_mysql() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"; }

# True when something (any process) accepts TCP connections on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
