#!/usr/bin/env bash
# A private RabbitMQ node for the tests: start, stop, and simulate outages.
#
# The node runs as the current user from Debian's rabbitmq-server package,
# without systemd and without touching the system's own node: its data,
# logs and Erlang cookie live in a state directory, it listens on
# 127.0.0.1 only, and it is called nova-vm-heartbeat@localhost. If some
# other broker already listens on the port, "start" uses it as it is and
# "stop" leaves it alone. Run with --help for the commands.

set -Eeuo pipefail

readonly CACHE_DIR=${NOVA_VM_HEARTBEAT_CACHE:-${HOME:-/tmp}/.cache/nova-vm-heartbeat}
readonly STATE_DIR=${NOVA_VM_HEARTBEAT_RABBITMQ_DIR:-$CACHE_DIR/rabbitmq}
readonly PORT=${NOVA_VM_HEARTBEAT_RABBITMQ_PORT:-5672}
readonly ADDRESS=127.0.0.1
readonly NODE=${NOVA_VM_HEARTBEAT_RABBITMQ_NODE:-nova-vm-heartbeat@localhost}
readonly START_TIMEOUT=${NOVA_VM_HEARTBEAT_RABBITMQ_TIMEOUT:-60}
readonly STOP_TIMEOUT=30
readonly RABBITMQ_BIN=/usr/lib/rabbitmq/bin
readonly LOG_FILE=$STATE_DIR/log/console.log
readonly PID_FILE=$STATE_DIR/node.pid

usage() {
    cat <<EOF
Usage: $0 COMMAND

Commands:
  start      start the node unless a broker already listens on
             $ADDRESS:$PORT, and wait until it accepts connections
             (at most ${START_TIMEOUT} s)
  stop       stop the node this script started (not another broker)
  restart    stop, then start
  status     say what listens on $ADDRESS:$PORT; exit 0 if a broker does,
             3 if none does
  stop-app   stop the RabbitMQ application but not the node (clients see
             the broker go away: connections refused)
  start-app  start it again and wait until it accepts connections

The node keeps its data and logs in $STATE_DIR
(NOVA_VM_HEARTBEAT_RABBITMQ_DIR); its console log is $LOG_FILE.
Clients connect to rabbit://guest:guest@$ADDRESS:$PORT/.
Environment: NOVA_VM_HEARTBEAT_RABBITMQ_PORT (default 5672),
NOVA_VM_HEARTBEAT_RABBITMQ_NODE (default nova-vm-heartbeat@localhost;
with ERL_EPMD_PORT, a second node beside another one),
NOVA_VM_HEARTBEAT_RABBITMQ_TIMEOUT (seconds, default 60).
EOF
}

say() { printf 'rabbitmq: %s\n' "$*"; }
die() { printf 'rabbitmq: ERROR: %s\n' "$*" >&2; exit 1; }

require_package() {
    [[ -x $RABBITMQ_BIN/rabbitmq-server ]] && return
    die "rabbitmq-server is not installed ($RABBITMQ_BIN/rabbitmq-server" \
        "is missing). Install it with:" \
        "sudo apt-get install -y --no-install-recommends rabbitmq-server" \
        "(./tools/test.sh run as root installs it from bindep.txt)"
}

# Everything the node and rabbitmqctl read comes from here, so that the
# system's /etc/rabbitmq and /var/lib/rabbitmq are never used.
node_environment() {
    export HOME=$STATE_DIR      # the Erlang cookie, shared with rabbitmqctl
    export RABBITMQ_NODENAME=$NODE
    export RABBITMQ_NODE_IP_ADDRESS=$ADDRESS
    export RABBITMQ_NODE_PORT=$PORT
    export RABBITMQ_DIST_PORT=$((PORT + 20000))
    export RABBITMQ_CONF_ENV_FILE=$STATE_DIR/rabbitmq-env.conf
    export RABBITMQ_CONFIG_FILE=$STATE_DIR/rabbitmq.conf
    export RABBITMQ_ADVANCED_CONFIG_FILE=$STATE_DIR/advanced.config
    export RABBITMQ_ENABLED_PLUGINS_FILE=$STATE_DIR/enabled_plugins
    export RABBITMQ_MNESIA_BASE=$STATE_DIR/mnesia
    export RABBITMQ_LOG_BASE=$STATE_DIR/log
    export RABBITMQ_PID_FILE=$PID_FILE
    export ERL_EPMD_ADDRESS=$ADDRESS
    export ERL_CRASH_DUMP=$STATE_DIR/log/erl_crash.dump
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

prepare_state_dir() {
    mkdir -p "$STATE_DIR/log" "$STATE_DIR/mnesia"
    : >"$RABBITMQ_CONF_ENV_FILE"
    printf '[].\n' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    printf 'listeners.tcp.default = %s:%s\nloopback_users.guest = true\n' \
        "$ADDRESS" "$PORT" >"$RABBITMQ_CONFIG_FILE"
}

port_open() {
    (exec 3<>"/dev/tcp/$ADDRESS/$PORT") 2>/dev/null
}

node_pid() {
    [[ -s $PID_FILE ]] || return 1
    local pid
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

ctl() {
    timeout 60 "$RABBITMQ_BIN/rabbitmqctl" -n "$NODE" "$@"
}

show_log_tail() {
    [[ -f $LOG_FILE ]] || return 0
    printf -- '--- last lines of %s ---\n' "$LOG_FILE" >&2
    tail -n 30 "$LOG_FILE" >&2
}

# Wait until the port accepts connections, or fail; $1 is the node's pid,
# or empty when the node is already up (start-app).
wait_for_port() {
    local pid=$1 started=$SECONDS
    while ! port_open; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            show_log_tail
            die "the node exited before accepting connections"
        fi
        if ((SECONDS - started >= START_TIMEOUT)); then
            show_log_tail
            die "nothing accepts connections on $ADDRESS:$PORT after" \
                "${START_TIMEOUT} s"
        fi
        sleep 0.5
    done
    say "accepting connections on $ADDRESS:$PORT after $((SECONDS - started)) s"
}

cmd_start() {
    if port_open; then
        if node_pid >/dev/null; then
            say "already running (node $NODE, pid $(node_pid))"
        else
            say "a broker not started by this script already listens on" \
                "$ADDRESS:$PORT; using it as it is"
        fi
        return 0
    fi
    if node_pid >/dev/null; then
        # Left with its application stopped (an interrupted outage test).
        say "node $NODE runs (pid $(node_pid)) with its application" \
            "stopped; starting the application"
        cmd_start_app
        return
    fi
    require_package
    node_environment
    prepare_state_dir
    say "starting node $NODE on $ADDRESS:$PORT (state in $STATE_DIR," \
        "console log $LOG_FILE)"
    rm -f "$PID_FILE"
    (cd "$STATE_DIR" && exec setsid "$RABBITMQ_BIN/rabbitmq-server" \
        </dev/null >>"$LOG_FILE" 2>&1) &
    local pid=$!
    wait_for_port "$pid"
    say "started (pid $(node_pid || echo "$pid"))"
}

stop_epmd_if_idle() {
    command -v epmd >/dev/null 2>&1 || return 0
    local names
    names=$(epmd -names 2>/dev/null | grep -c '^name ' || true)
    if [[ $names == 0 ]]; then
        epmd -kill >/dev/null 2>&1 || true
    fi
}

cmd_stop() {
    local pid
    if ! pid=$(node_pid); then
        if port_open; then
            die "the broker on $ADDRESS:$PORT was not started by this" \
                "script; leaving it alone"
        fi
        say "not running; nothing to stop"
        return 0
    fi
    node_environment
    say "stopping node $NODE (pid $pid)"
    ctl stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    local started=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS - started >= STOP_TIMEOUT)); then
            say "still running after ${STOP_TIMEOUT} s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.5
    done
    rm -f "$PID_FILE"
    stop_epmd_if_idle
    say "stopped"
}

cmd_status() {
    local pid
    if pid=$(node_pid); then
        if port_open; then
            say "running: node $NODE, pid $pid, accepting connections" \
                "on $ADDRESS:$PORT"
        else
            say "node $NODE runs (pid $pid) but does not accept" \
                "connections on $ADDRESS:$PORT (application stopped?)"
            return 3
        fi
    elif port_open; then
        say "a broker not started by this script listens on $ADDRESS:$PORT"
    else
        say "not running: nothing listens on $ADDRESS:$PORT"
        return 3
    fi
}

require_own_node() {
    node_pid >/dev/null || die "node $NODE is not running (this script" \
        "controls only the node it started; run '$0 start' first)"
    node_environment
}

cmd_stop_app() {
    require_own_node
    ctl stop_app >/dev/null || die "rabbitmqctl stop_app failed"
    say "application stopped on $NODE: $ADDRESS:$PORT refuses connections"
}

cmd_start_app() {
    require_own_node
    ctl start_app >/dev/null || die "rabbitmqctl start_app failed"
    wait_for_port ""
}

main() {
    [[ $# -eq 1 ]] || { usage >&2; exit 2; }
    case $1 in
        start) cmd_start ;;
        stop) cmd_stop ;;
        restart) cmd_stop; cmd_start ;;
        status) cmd_status ;;
        stop-app) cmd_stop_app ;;
        start-app) cmd_start_app ;;
        -h|--help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
