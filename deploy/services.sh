#!/usr/bin/env bash
# Local PostgreSQL and RabbitMQ for development and tests, with all their
# data under var/.  Usage: bash deploy/services.sh start|stop|status
#
# With DATABASE_URL / CELERY_BROKER_URL set in the environment, that service
# is not started locally; the given URL is written to var/env.sh instead.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR=$ROOT/var
SECRETS=$VAR/secrets

PG_PORT=${PG_PORT:-55432}
PG_DATA=$VAR/pg/data
PG_LOG=$VAR/pg/postgres.log
PG_SOCKET_DIR=$VAR/run/pg

AMQP_PORT=${AMQP_PORT:-55672}
RABBIT_DIST_PORT=${RABBITMQ_DIST_PORT:-55673}  # Erlang distribution (system default: 25672)
RABBIT_NODE=${RABBITMQ_NODENAME:-dashboard@localhost}
RABBIT_DIR=$VAR/rabbitmq
RABBIT_BIN=/usr/lib/rabbitmq/bin

log() { echo "services: $*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [[ $(id -u) == 0 ]]; }

# Run a command as the given OS user (as ourselves when not root).
as_user() {
    local user=$1; shift
    if is_root; then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

# Give a directory tree to a service user (when root) and make sure it can get
# there: a clone under /root is closed to other users.
own_dir() {
    local user=$1 dir=$2 d blocked=()
    mkdir -p "$dir"
    is_root || return 0
    chown -R "$user:" "$dir"
    runuser -u "$user" -- test -w "$dir" && return 0
    d=$dir
    while [[ $d != / ]]; do
        d=$(dirname "$d")
        [[ $(stat -c %A "$d") =~ [xt]$ ]] || blocked+=("$d")
    done
    ((${#blocked[@]})) || die "user '$user' cannot write to $dir"
    if [[ ${CI:-} != true ]]; then
        die "user '$user' cannot reach $dir: run 'chmod o+x ${blocked[*]}' (or clone elsewhere)"
    fi
    log "CI: chmod o+x ${blocked[*]} so that user '$user' can reach $dir"
    chmod o+x "${blocked[@]}"
    runuser -u "$user" -- test -w "$dir" || die "user '$user' still cannot reach $dir"
}

APT_UPDATED=no
apt_install() {
    is_root || die "package(s) $* missing and not root: install them (apt-get install $*)"
    if [[ $APT_UPDATED == no ]]; then
        apt-get update
        APT_UPDATED=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" </dev/null
}

# A random secret, generated once and kept in var/secrets/NAME.
secret() {
    local file=$SECRETS/$1
    if [[ ! -s $file ]]; then
        mkdir -p "$SECRETS"
        chmod 700 "$SECRETS"
        (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(20))' >"$file")
    fi
    cat "$file"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- PostgreSQL

# The binaries matching an existing cluster, else the newest installed.
pg_bin() {
    if [[ -f $PG_DATA/PG_VERSION ]]; then
        echo "/usr/lib/postgresql/$(cat "$PG_DATA/PG_VERSION")/bin"
    else
        ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true
    fi
}

pg_url() { echo "postgresql+psycopg2://dashboard:$(secret pg_password)@127.0.0.1:$PG_PORT/$1"; }

pg_ctl() { as_user postgres "$(pg_bin)/pg_ctl" -D "$PG_DATA" "$@"; }

# Answers on our socket (a process that is merely alive is not enough).
pg_running() {
    [[ -x $(pg_bin)/pg_isready ]] && "$(pg_bin)/pg_isready" -q -h "$PG_SOCKET_DIR" -p "$PG_PORT"
}

pg_psql() {
    as_user postgres "$(pg_bin)/psql" -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d postgres \
        -X -q -v ON_ERROR_STOP=1 "$@"
}

# A postmaster killed with -9 lingers as a zombie where PID 1 does not reap
# (containers); its lock files then block the restart.
pg_clear_zombie_lock() {
    local pid
    pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 0
    if [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
        log "removing lock files left by dead postmaster $pid"
        rm -f "$PG_DATA/postmaster.pid" "$PG_SOCKET_DIR/.s.PGSQL.$PG_PORT.lock"
    fi
}

pg_start() {
    [[ -x $(pg_bin)/postgres ]] || apt_install postgresql

    if pg_running; then
        log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
    else
        own_dir postgres "$VAR/pg"
        own_dir postgres "$PG_SOCKET_DIR"
        if [[ ! -f $PG_DATA/PG_VERSION ]]; then
            log "initdb $PG_DATA"
            as_user postgres "$(pg_bin)/initdb" -D "$PG_DATA" --encoding=UTF8 --locale=C.UTF-8 \
                --auth-local=peer --auth-host=scram-sha-256 >/dev/null
            echo "include = 'dashboard.conf'" >>"$PG_DATA/postgresql.conf"
        fi
        # Rewritten on every start so PG_PORT changes take effect.
        cat >"$PG_DATA/dashboard.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
password_encryption = 'scram-sha-256'
max_connections = 200
shared_buffers = 256MB
fsync = on
EOF
        log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        pg_clear_zombie_lock
        pg_ctl -l "$PG_LOG" -w -t 60 start >/dev/null ||
            { tail -n 20 "$PG_LOG" >&2; die "PostgreSQL did not start (log: $PG_LOG)"; }
    fi

    # Idempotent: role (password kept in sync with var/secrets) and databases.
    pg_psql -v pw="$(secret pg_password)" <<'EOF'
SELECT 'CREATE ROLE dashboard LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dashboard') \gexec
ALTER ROLE dashboard LOGIN PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER dashboard', name)
  FROM unnest(ARRAY['dashboard', 'dashboard_test']) AS name
 WHERE name NOT IN (SELECT datname FROM pg_database) \gexec
EOF
}

pg_stop() {
    if [[ -f $PG_DATA/PG_VERSION ]] && pg_ctl status >/dev/null; then
        log "stopping PostgreSQL"
        pg_ctl -m fast -w stop >/dev/null
    else
        log "PostgreSQL not running"
    fi
}

# ------------------------------------------------------------------ RabbitMQ

rabbit_url() { echo "amqp://dashboard:$(secret rabbitmq_password)@127.0.0.1:$AMQP_PORT/$1"; }

# RabbitMQ commands run as the rabbitmq user (when root), with our own env
# file (node name, ports, dirs) and our own Erlang cookie in $HOME.
AS_RABBIT=()
is_root && AS_RABBIT=(runuser -u rabbitmq --)
RABBIT_ENV=(env HOME="$RABBIT_DIR" RABBITMQ_CONF_ENV_FILE="$RABBIT_DIR/rabbitmq-env.conf"
    ERL_CRASH_DUMP="$RABBIT_DIR/log/erl_crash.dump")

rabbitmqctl() {
    "${AS_RABBIT[@]}" "${RABBIT_ENV[@]}" "$RABBIT_BIN/rabbitmqctl" -n "$RABBIT_NODE" "$@"
}

rabbit_pid() { cat "$RABBIT_DIR/rabbitmq.pid" 2>/dev/null; }

rabbit_running() {
    local pid
    pid=$(rabbit_pid) && kill -0 "$pid" 2>/dev/null && port_open "$AMQP_PORT"
}

rabbit_write_config() {
    mkdir -p "$RABBIT_DIR/log" "$RABBIT_DIR/mnesia"
    own_dir rabbitmq "$RABBIT_DIR"
    if [[ ! -s $RABBIT_DIR/.erlang.cookie ]]; then
        (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(20).upper(), end="")' \
            >"$RABBIT_DIR/.erlang.cookie")
    fi
    cat >"$RABBIT_DIR/rabbitmq-env.conf" <<EOF
RABBITMQ_NODENAME=$RABBIT_NODE
RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
RABBITMQ_NODE_PORT=$AMQP_PORT
RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT
RABBITMQ_CONFIG_FILE=$RABBIT_DIR/rabbitmq.conf
RABBITMQ_ADVANCED_CONFIG_FILE=$RABBIT_DIR/advanced.config
RABBITMQ_ENABLED_PLUGINS_FILE=$RABBIT_DIR/enabled_plugins
RABBITMQ_MNESIA_BASE=$RABBIT_DIR/mnesia
RABBITMQ_LOG_BASE=$RABBIT_DIR/log
RABBITMQ_PID_FILE=$RABBIT_DIR/rabbitmq.pid
RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
ERL_EPMD_ADDRESS=127.0.0.1
EOF
    # default_*: the user and vhost created when the node boots the first time.
    cat >"$RABBIT_DIR/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
# Must exceed the largest Celery hard time limit (3600 s), in milliseconds.
consumer_timeout = 7200000
default_user = dashboard
default_pass = $(secret rabbitmq_password)
default_vhost = dashboard
EOF
    chmod 600 "$RABBIT_DIR/rabbitmq.conf"
    [[ -f $RABBIT_DIR/enabled_plugins ]] || echo '[].' >"$RABBIT_DIR/enabled_plugins"
    is_root && chown -R rabbitmq: "$RABBIT_DIR"
    chmod 400 "$RABBIT_DIR/.erlang.cookie"
}

rabbit_start() {
    [[ -x $RABBIT_BIN/rabbitmq-server ]] || apt_install rabbitmq-server
    if rabbit_running; then
        log "RabbitMQ already running on 127.0.0.1:$AMQP_PORT"
        return
    fi
    if port_open "$AMQP_PORT"; then
        if rabbitmqctl -q ping >/dev/null 2>&1; then
            log "RabbitMQ already running on 127.0.0.1:$AMQP_PORT (its pid file is gone)"
            return
        fi
        die "port $AMQP_PORT is in use by another program"
    fi

    rabbit_write_config
    rm -f "$RABBIT_DIR/rabbitmq.pid"
    log "starting RabbitMQ node $RABBIT_NODE on 127.0.0.1:$AMQP_PORT"
    # setsid: out of our process group, so Ctrl-C on `make run` spares it.
    setsid "${AS_RABBIT[@]}" "${RABBIT_ENV[@]}" "$RABBIT_BIN/rabbitmq-server" \
        </dev/null >"$RABBIT_DIR/log/startup.log" 2>&1 &

    # The AMQP listener opens near the end of boot; then confirm with the CLI.
    local deadline=$((SECONDS + 120))
    until port_open "$AMQP_PORT"; do
        if ((SECONDS > deadline)) || ! kill -0 $! 2>/dev/null; then
            tail -n 30 "$RABBIT_DIR/log/startup.log" >&2
            die "RabbitMQ did not start (logs: $RABBIT_DIR/log/)"
        fi
        sleep 0.5
    done
    rabbitmqctl -q await_startup --timeout 60 >/dev/null

    # The password follows var/secrets; the test vhost is ours to add.
    rabbitmqctl -q change_password dashboard "$(secret rabbitmq_password)" >/dev/null
    rabbitmqctl -q add_vhost dashboard_test >/dev/null
    rabbitmqctl -q set_permissions -p dashboard_test dashboard '.*' '.*' '.*' >/dev/null
}

rabbit_stop() {
    if rabbit_running || port_open "$AMQP_PORT"; then
        log "stopping RabbitMQ"
        rabbitmqctl -q shutdown >/dev/null || log "warning: node $RABBIT_NODE did not answer"
    else
        log "RabbitMQ not running"
    fi
}

# ------------------------------------------------------------------ commands

# Local unless the user gave a URL (one that is not ours from var/env.sh).
local_db() {
    [[ -z ${DATABASE_URL:-} ]] ||
        { [[ -s $SECRETS/pg_password ]] && [[ $DATABASE_URL == "$(pg_url dashboard)" ]]; }
}
local_broker() {
    [[ -z ${CELERY_BROKER_URL:-} ]] ||
        { [[ -s $SECRETS/rabbitmq_password ]] && [[ $CELERY_BROKER_URL == "$(rabbit_url dashboard)" ]]; }
}

write_env() {
    local db=${DATABASE_URL:-} broker=${CELERY_BROKER_URL:-} test_db test_broker
    if local_db; then
        db=$(pg_url dashboard)
        test_db=${TEST_DATABASE_URL:-$(pg_url dashboard_test)}
    else
        test_db=${TEST_DATABASE_URL:-$db}
    fi
    if local_broker; then
        broker=$(rabbit_url dashboard)
        test_broker=${TEST_BROKER_URL:-$(rabbit_url dashboard_test)}
    else
        test_broker=${TEST_BROKER_URL:-$broker}
    fi
    {
        echo "# Written by deploy/services.sh; source it."
        printf 'export DATABASE_URL=%q\n' "$db"
        printf 'export CELERY_BROKER_URL=%q\n' "$broker"
        printf 'export TEST_DATABASE_URL=%q\n' "$test_db"
        printf 'export TEST_BROKER_URL=%q\n' "$test_broker"
    } >"$VAR/env.sh"
    chmod 600 "$VAR/env.sh"
}

cmd_start() {
    mkdir -p "$VAR/run" "$VAR/log"
    if local_db; then pg_start; else log "using DATABASE_URL from the environment"; fi
    if local_broker; then rabbit_start; else log "using CELERY_BROKER_URL from the environment"; fi
    write_env
    log "ready; environment in var/env.sh"
}

cmd_stop() {
    rabbit_stop
    pg_stop
}

cmd_status() {
    if ! local_db; then
        echo "postgresql: not ours (DATABASE_URL is set)"
    elif pg_running; then
        echo "postgresql: running on 127.0.0.1:$PG_PORT (data $PG_DATA)"
    else
        echo "postgresql: not running"
    fi
    if ! local_broker; then
        echo "rabbitmq: not ours (CELERY_BROKER_URL is set)"
    elif rabbit_running; then
        echo "rabbitmq: running on 127.0.0.1:$AMQP_PORT (node $RABBIT_NODE)"
    else
        echo "rabbitmq: not running"
    fi
}

# An extra database + vhost pair for a parallel test run; prints the exports.
cmd_test_env() {
    local name=${1:?usage: $0 test-env NAME}
    [[ $name =~ ^[a-z0-9_]{1,30}$ ]] || die "test-env NAME: lowercase letters, digits, _"
    local_db && local_broker || die "test-env needs the local services"
    pg_psql -v db="dashboard_$name" >/dev/null <<'EOF'
SELECT format('CREATE DATABASE %I OWNER dashboard', :'db')
 WHERE :'db' NOT IN (SELECT datname FROM pg_database) \gexec
EOF
    rabbitmqctl -q add_vhost "dashboard_$name" >/dev/null 2>&1 || true
    rabbitmqctl -q set_permissions -p "dashboard_$name" dashboard '.*' '.*' '.*' >/dev/null
    printf 'export TEST_DATABASE_URL=%q\n' "$(pg_url "dashboard_$name")"
    printf 'export TEST_BROKER_URL=%q\n' "$(rabbit_url "dashboard_$name")"
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    test-env) shift; cmd_test_env "$@" ;;
    *) echo "usage: $0 start|stop|status|test-env NAME" >&2; exit 2 ;;
esac
