# shellcheck shell=dash
# Shell functions shared by /init and the hb-* commands of the test guest:
# the kernel command line options, and starting and stopping qemu-ga and
# the heartbeat agent. busybox sh; sourced, not run.

readonly RUN_DIR=/run/nova-vm-heartbeat
readonly AGENT=/usr/lib/nova-vm-heartbeat/agent.pyz
readonly CHECKS_DIR=/etc/nova-vm-heartbeat/checks.d
readonly HB_PORT=org.openstack.heartbeat.0
readonly QGA_PORT=org.qemu.guest_agent.0
readonly QGA_PIDFILE=/run/qemu-ga.pid
readonly AGENT_PIDFILE=$RUN_DIR/agent.pid

# Kernel command line options; see /init (which reads OPT_RESPAWN).
# shellcheck disable=SC2034
OPT_AGENT=1 OPT_QGA=1 OPT_RESPAWN=0 OPT_LOG_LEVEL=INFO OPT_FAULT=

log() { echo "hb-init: $*"; }

# shellcheck disable=SC2034  # OPT_RESPAWN is read by /init
parse_cmdline() {
    local word
    # shellcheck disable=SC2013  # words, not lines
    for word in $(cat /proc/cmdline); do
        case $word in
            hb.agent=*) OPT_AGENT=${word#*=} ;;
            hb.qga=*) OPT_QGA=${word#*=} ;;
            hb.respawn=*) OPT_RESPAWN=${word#*=} ;;
            hb.log_level=*) OPT_LOG_LEVEL=${word#*=} ;;
            hb.fault=*) OPT_FAULT=${word#*=} ;;
        esac
    done
}

start_qga() {
    [ "$OPT_QGA" = 1 ] || return 0
    if [ ! -e "/dev/virtio-ports/$QGA_PORT" ]; then
        log "no $QGA_PORT port: qemu-ga not started"
        return 0
    fi
    qemu-ga -m virtio-serial -p "/dev/virtio-ports/$QGA_PORT" \
        -t /run/qemu-ga </dev/null >/dev/console 2>&1 &
    echo $! >"$QGA_PIDFILE"
    log "qemu-ga started (pid $!)"
}

start_agent() {
    [ "$OPT_AGENT" = 1 ] || return 0
    if [ ! -e "/dev/virtio-ports/$HB_PORT" ]; then
        log "no $HB_PORT port: heartbeat agent not started"
        return 0
    fi
    mkdir -p "$RUN_DIR" "$CHECKS_DIR"
    rm -f "$RUN_DIR/shutdown-reason"
    python3 "$AGENT" run --port "/dev/virtio-ports/$HB_PORT" \
        --socket "$RUN_DIR/agent.sock" --checks-dir "$CHECKS_DIR" \
        --log-level "$OPT_LOG_LEVEL" </dev/null >/dev/console 2>&1 &
    echo $! >"$AGENT_PIDFILE"
    log "heartbeat agent started (pid $!)"
}

# busybox acpid runs /etc/acpi/PWRF/00000080 on the ACPI power button.
start_acpid() {
    [ -e /dev/input/event0 ] || return 0
    acpid -c /etc/acpi -l /run/acpid.log -p /run/acpid.pid
}

# True while the process in the pid file lives (zombies do not count).
alive() {
    local pid state
    pid=$(cat "$1" 2>/dev/null) || return 1
    state=$(sed 's/.*) //; s/ .*//' "/proc/$pid/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
}

# SIGTERM (and SIGCONT, in case it was stopped), then SIGKILL after $2 s.
stop_pidfile() {
    local pid tries=0
    alive "$1" || return 0
    pid=$(cat "$1")
    kill -TERM "$pid"
    kill -CONT "$pid"
    while alive "$1" && [ $tries -lt $(($2 * 10)) ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    if alive "$1"; then
        log "pid $pid ($1) ignored SIGTERM: killing it"
        kill -KILL "$pid"
    fi
    rm -f "$1"
}
