#!/usr/bin/env bash
# A real OpenStack cloud on this machine, for the live test tier.
#
# MariaDB, RabbitMQ, keystone, placement, glance (file store), the neutron
# API server (ML2 with no mechanism drivers and no agents), nova api,
# conductor, scheduler and compute (HeartbeatLibvirtDriver on libvirt/QEMU
# TCG), masakari api and engine, and nova-vm-heartbeat-masakari-bridge; real
# Keystone authentication everywhere. Root, Debian 12, no systemd: every
# daemon is started by this script, with a pid file, and only those are
# stopped. Run with --help for the commands.

set -Eeuo pipefail
trap 'printf "ERROR: exit status %s from: %s\n" "$?" "$BASH_COMMAND" >&2' ERR

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly TOP
readonly HERE=$TOP/tools/minicloud
readonly MC=${NVH_MINICLOUD_DIR:-/var/lib/nova-vm-heartbeat-minicloud}
readonly CACHE_DIR=${NOVA_VM_HEARTBEAT_CACHE:-$HOME/.cache/nova-vm-heartbeat}
readonly ETC=$MC/etc RUN=$MC/run LOGS=$MC/log STAMPS=$MC/stamps
readonly ADDR=127.0.0.1
# Ports away from the services' defaults, so that a cloud or a test broker
# already on this machine is left alone.
readonly PORT_MYSQL=23306 PORT_RABBIT=25672 PORT_EPMD=24369
readonly PORT_KEYSTONE=25000 PORT_PLACEMENT=28778 PORT_GLANCE=29292
readonly PORT_NEUTRON=29696 PORT_NOVA=28774 PORT_MASAKARI=25868
readonly COMPUTE_HOST=nvh-minicloud
# Domains of this cloud are named after this template (others' are not).
readonly INSTANCE_NAME_TEMPLATE=nvhmc-%08x
readonly REGION=RegionOne
readonly START_TIMEOUT=${NVH_MINICLOUD_START_TIMEOUT:-120}
readonly COMPUTE_STOP_TIMEOUT=15
readonly AUTH_URL=http://$ADDR:$PORT_KEYSTONE/v3
# Bump when the databases' content must be made afresh.
readonly DB_GENERATION=2
readonly SERVICE_USERS=(nova neutron glance placement masakari)
readonly DATABASES=(keystone placement glance neutron nova_api nova_cell0
                    nova masakari)
# Start order; "down" stops them in reverse.
readonly SERVICES=(mariadb rabbitmq keystone placement glance neutron
                   nova-api nova-conductor nova-scheduler nova-compute
                   masakari-api masakari-engine masakari-bridge)

VENV=""         # the mini-cloud's virtualenv, set by ensure_venv
PASSWORD=""     # of every service user and of admin, set by ensure_secret

usage() {
    cat <<EOF
Usage: $0 up|status|down|env

  up      install what is missing, start every service, create the cloud's
          resources (images, flavors, Masakari segment) and write
          $ETC/tempest.conf; reuses databases and images
          while their inputs are unchanged
  status  list the services, their pids and whether they answer
  down    stop every process 'up' started (also after a failed 'up') and
          destroy this cloud's guests ($INSTANCE_NAME_TEMPLATE)
  env     print the shell variables for the openstack client
  host ACTION
          what the tempest plugin's host-access tests do on this host
          ([heartbeat] host_command): status (the monitor's status as
          JSON), restart-compute, reboot-host (nova-compute stopped, the
          cloud's domains destroyed, nova-compute started; the shared
          libvirtd is left running), dumpxml SERVER_UUID, compute-log

State, configuration and logs: $MC (NVH_MINICLOUD_DIR); logs in
$LOGS/<service>.log. Python packages: a virtualenv in
$CACHE_DIR (NOVA_VM_HEARTBEAT_CACHE) keyed on its inputs.
EOF
}

say() { printf '==> minicloud: %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'ERROR: minicloud: %s\n' "$*" >&2; exit 1; }

# die for one service: what failed, its log and the fix.
service_failed() {
    local name=$1 what=$2 fix="${*:3}" log=$LOGS/$1.log
    if [[ -f $log ]]; then
        printf -- '--- last lines of %s ---\n' "$log" >&2
        tail -n 25 "$log" >&2
    fi
    die "$name: $what. Log: $log. Fix: $fix"
}

# --- checks -----------------------------------------------------------------

require_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (it installs Debian" \
        "packages, runs MariaDB and libvirt guests): sudo $0 $*"
}

# The Debian packages of bindep.txt's "live" profile that are missing
# (bindep comes with the project's virtualenv).
missing_packages() {
    "$(project_venv)/bin/bindep" -b -f "$TOP/bindep.txt" live || true
}

ensure_packages() {
    local missing
    missing=$(missing_packages)
    [[ -z $missing ]] && return
    # shellcheck disable=SC2086  # one package name per line
    set -- $missing
    say "installing Debian packages (bindep.txt, profile live): $*"
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "$@" \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -q \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
               --no-install-recommends "$@"; }; } >"$LOGS/apt.log" 2>&1 \
        || die "apt-get could not install $* (log: $LOGS/apt.log). Fix:" \
            "apt-get update && apt-get install -y $*"
    missing=$(missing_packages)
    [[ -z $missing ]] || die "still missing after apt-get: $missing"
}

port_open() { (exec 3<>"/dev/tcp/$ADDR/$1") 2>/dev/null; }

# A port someone else listens on would make a service of ours fail late
# and obscurely: say so first.
require_free_port() {
    local name=$1 port=$2
    port_open "$port" || return 0
    die "$name: port $ADDR:$port is already in use by a process this" \
        "script did not start. Fix: stop it (see: ss -ltnp 'sport = :$port')" \
        "or run '$0 down' if it is a left-over of this cloud"
}

# --- processes ----------------------------------------------------------------

pid_of() {
    local file=$RUN/$1.pid pid
    [[ -s $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

# start NAME PORT CMD...: run CMD in its own session (so that "down" can
# stop it with every child), log to $LOGS/NAME.log, pid to $RUN/NAME.pid.
start() {
    local name=$1 port=$2
    shift 2
    if pid_of "$name" >/dev/null; then
        note "$name already runs (pid $(pid_of "$name"))"
        return
    fi
    [[ $port == - ]] || require_free_port "$name" "$port"
    printf '\n=== %s starting: %s\n' "$(date -u +%FT%TZ)" "$*" \
        >>"$LOGS/$name.log"
    setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
    note "$name started (pid $!, log $LOGS/$name.log)"
}

# wait_for NAME DESCRIPTION CHECK...: poll CHECK until it succeeds, while
# the process lives, for at most START_TIMEOUT seconds.
wait_for() {
    local name=$1 what=$2 started=$SECONDS
    shift 2
    note "waiting for $name: $what (at most ${START_TIMEOUT} s)"
    until "$@" >/dev/null 2>&1; do
        pid_of "$name" >/dev/null || service_failed "$name" \
            "exited before $what" "read the log, correct the cause, then" \
            "'$0 down' and '$0 up'"
        ((SECONDS - started < START_TIMEOUT)) || service_failed "$name" \
            "no $what after ${START_TIMEOUT} s" "read the log; a slow" \
            "machine may need NVH_MINICLOUD_START_TIMEOUT"
        sleep 1
    done
    note "$name: $what after $((SECONDS - started)) s"
}

http_ok() { curl -sf -o /dev/null -m 5 "$1"; }
# Any HTTP answer (an API that wants a token answers 401).
http_answers() {
    local code
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1") || return 1
    [[ $code != 000 && $code -lt 500 ]]
}

# Stop one service and every process of its session; SIGKILL after $2 s.
stop() {
    local name=$1 timeout=${2:-30} pid started=$SECONDS
    pid=$(pid_of "$name") || { rm -f "$RUN/$name.pid"; return 0; }
    note "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS - started >= timeout)); then
            note "$name ignored SIGTERM for $timeout s: SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" || true
            break
        fi
        sleep 0.5
    done
    # What is left of the session (privsep helpers, workers).
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$RUN/$name.pid"
}

# --- the virtualenv ---------------------------------------------------------

project_venv() {
    local venv
    venv=$(readlink -f "$TOP/.venv" 2>/dev/null) || true
    if [[ -z $venv || ! -x $venv/bin/python ]]; then
        say "no project virtualenv yet: ./tools/test.sh --setup-only"
        "$TOP/tools/test.sh" --setup-only >"$LOGS/setup.log" 2>&1 \
            || die "tools/test.sh --setup-only failed (log: $LOGS/setup.log)"
        venv=$(readlink -f "$TOP/.venv")
    fi
    printf '%s\n' "$venv"
}

# Frozen project set, without this tree (installed editable afterwards).
project_freeze() {
    "$1/bin/python" -m pip --disable-pip-version-check freeze --all \
        | grep -v -e '^-e ' -e '^nova-vm-heartbeat' -e '^pip=='
}

# The project's virtualenv is named after a hash of its inputs, so its
# name and the mini-cloud's requirements make this virtualenv's key.
ensure_venv() {
    local project key log=$LOGS/venv.log stamp
    project=$(project_venv)
    key=$({ basename "$project"; cat "$HERE/requirements.txt"; } \
          | sha256sum | cut -c1-16)
    VENV=$CACHE_DIR/minicloud-venv-$key
    if [[ ! -f $VENV/.complete ]]; then
        say "building the virtualenv $VENV (a few minutes; log $log)"
        rm -rf "$VENV"
        mkdir -p "$CACHE_DIR"
        project_freeze "$project" >"$MC/constraints.txt"
        "$("$project/bin/python" -c \
            'import sys; print(sys._base_executable)')" -m venv "$VENV"
        { "$VENV/bin/pip" install -q --upgrade pip \
          && "$VENV/bin/pip" install -c "$MC/constraints.txt" \
               -r "$TOP/requirements.txt" \
               -r "$TOP/openstack-requirements.txt" \
               -r "$HERE/requirements.txt" \
          && "$VENV/bin/pip" check; } >"$log" 2>&1 \
            || die "the mini-cloud virtualenv could not be built (log: $log)"
        touch "$VENV/.complete"
    else
        note "reusing the virtualenv $VENV"
    fi
    # This tree, editable (the driver, the bridge, the tempest plugin):
    # again when the tree or its entry points changed.
    stamp=$VENV/.editable-$(printf '%s\n' "$TOP" | cat - "$TOP/setup.cfg" \
        | sha256sum | cut -c1-16)
    if [[ ! -f $stamp ]]; then
        rm -f "$VENV"/.editable-*
        "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$TOP" \
            >>"$log" 2>&1 \
            || die "could not install $TOP into $VENV (log: $log)"
        touch "$stamp"
    fi
    ln -sfn "$VENV" "$MC/venv"
}

# --- secrets and configuration ----------------------------------------------

ensure_secret() {
    if [[ ! -s $MC/password ]]; then
        (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' 'xy' \
            >"$MC/password")
    fi
    PASSWORD=$(<"$MC/password")
}

db_url() { printf 'mysql+pymysql://%s:%s@%s:%s/%s?charset=utf8' \
    "$1" "$PASSWORD" "$ADDR" "$PORT_MYSQL" "$1"; }
rabbit_url() { printf 'rabbit://guest:guest@%s:%s/' "$ADDR" "$PORT_RABBIT"; }

# [keystone_authtoken] or any password auth section for service user $2.
auth_section() {
    cat <<EOF
[$1]
auth_type = password
auth_url = $AUTH_URL
www_authenticate_uri = $AUTH_URL
project_name = service
project_domain_name = Default
username = $2
user_domain_name = Default
password = $PASSWORD
region_name = $REGION
memcached_servers =
EOF
}

write_configs() {
    # shellcheck source=minicloud/configs.sh
    . "$HERE/configs.sh"
    write_keystone_conf
    write_placement_conf
    write_glance_conf
    write_neutron_conf
    write_nova_conf
    write_masakari_conf
    write_bridge_conf
}

# --- services -----------------------------------------------------------------

# mariadbd runs as user mysql: its socket and pid file go to a directory
# of its own.
readonly MYSQL_RUN=$MC/mysqld
mysql_root() { mariadb --no-defaults -S "$MYSQL_RUN/mysqld.sock" -u root "$@"; }

start_mariadb() {
    if [[ ! -d $MC/mysql/mysql ]]; then
        say "initialising MariaDB in $MC/mysql"
        rm -rf "$MC/mysql"
        mariadb-install-db --no-defaults --datadir="$MC/mysql" --user=mysql \
            --auth-root-authentication-method=socket >"$LOGS/mariadb.log" \
            2>&1 || service_failed mariadb "mariadb-install-db failed" \
            "rm -rf $MC/mysql and run '$0 up' again"
    fi
    mkdir -p "$MYSQL_RUN"
    chown -R mysql:mysql "$MC/mysql" "$MYSQL_RUN"
    start mariadb "$PORT_MYSQL" /usr/sbin/mariadbd --no-defaults \
        --datadir="$MC/mysql" --socket="$MYSQL_RUN/mysqld.sock" \
        --port="$PORT_MYSQL" --bind-address="$ADDR" --user=mysql \
        --pid-file="$MYSQL_RUN/mariadbd.pid" --skip-log-bin \
        --innodb-buffer-pool-size=64M --max-connections=300
    wait_for mariadb "the SQL socket" mysql_root -e 'SELECT 1'
}

rabbitmq_env() {
    export NOVA_VM_HEARTBEAT_RABBITMQ_DIR=$MC/rabbitmq
    export NOVA_VM_HEARTBEAT_RABBITMQ_PORT=$PORT_RABBIT
    export NOVA_VM_HEARTBEAT_RABBITMQ_NODE=nvh-minicloud
    export ERL_EPMD_PORT=$PORT_EPMD
}

start_rabbitmq() {
    rabbitmq_env
    if port_open "$PORT_RABBIT" && ! pid_of rabbitmq >/dev/null; then
        require_free_port rabbitmq "$PORT_RABBIT"
    fi
    "$TOP/tools/rabbitmq.sh" start >>"$LOGS/rabbitmq.log" 2>&1 \
        || service_failed rabbitmq "did not start" "see also" \
            "$MC/rabbitmq/log/console.log"
    cp "$MC/rabbitmq/node.pid" "$RUN/rabbitmq.pid"
    note "rabbitmq: a private node on $ADDR:$PORT_RABBIT (epmd $PORT_EPMD)"
}

stop_rabbitmq() {
    pid_of rabbitmq >/dev/null || return 0
    rabbitmq_env
    note "stopping rabbitmq"
    "$TOP/tools/rabbitmq.sh" stop >>"$LOGS/rabbitmq.log" 2>&1 || stop rabbitmq
    rm -f "$RUN/rabbitmq.pid"
}

# The stamp of a database: its generation and the services' versions.
db_key() {
    { echo "$DB_GENERATION"; basename "$VENV"; } | sha256sum | cut -c1-16
}

# Drop every database when their key changed, so that nothing half-made or
# stale is reused; create the missing ones.
ensure_databases() {
    local key db
    key=$(db_key)
    if [[ -f $STAMPS/databases && $(<"$STAMPS/databases") != "$key" ]]; then
        say "the services' versions changed: making the databases afresh"
        for db in "${DATABASES[@]}"; do
            mysql_root -e "DROP DATABASE IF EXISTS $db"
        done
        rm -f "$STAMPS"/*
    fi
    for db in "${DATABASES[@]}"; do
        mysql_root <<EOF
CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8;
CREATE USER IF NOT EXISTS '$db'@'localhost' IDENTIFIED BY '$PASSWORD';
CREATE USER IF NOT EXISTS '$db'@'$ADDR' IDENTIFIED BY '$PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$db'@'localhost';
GRANT ALL PRIVILEGES ON *.* TO '$db'@'$ADDR';
EOF
    done
    echo "$key" >"$STAMPS/databases"
}

# once STEP CMD...: run CMD unless STEP succeeded before on these databases.
once() {
    local step=$1 log=$LOGS/bootstrap.log started=$SECONDS
    shift
    if [[ -f $STAMPS/$step ]]; then
        note "$step: done before (stamp $STAMPS/$step)"
        return
    fi
    note "$step ..."
    printf '\n=== %s %s: %s\n' "$(date -u +%FT%TZ)" "$step" "$*" >>"$log"
    "$@" >>"$log" 2>&1 || { tail -n 25 "$log" >&2
        die "$step failed (log: $log). Fix: correct the cause, then" \
            "'$0 up' again (it redoes only what did not finish)"; }
    touch "$STAMPS/$step"
    note "$step: $((SECONDS - started)) s"
}

gunicorn_app() {
    local name=$1 port=$2 module=$3 dirvar=$4 dir=$5
    start "$name" "$port" env "$dirvar=$dir" MINICLOUD_WSGI_APP="$module" \
        "$VENV/bin/gunicorn" -k gthread -w 1 --threads 4 \
        --no-control-socket --timeout 120 -b "$ADDR:$port" \
        --pythonpath "$HERE" minicloud_wsgi:application
}

bootstrap_keystone() {
    local k=$VENV/bin/keystone-manage conf=(--config-file "$ETC/keystone/keystone.conf")
    once keystone-db "$k" "${conf[@]}" db_sync
    once keystone-keys bash -c "'$k' --config-file '$ETC/keystone/keystone.conf' fernet_setup --keystone-user root --keystone-group root && '$k' --config-file '$ETC/keystone/keystone.conf' credential_setup --keystone-user root --keystone-group root"
    once keystone-bootstrap "$k" "${conf[@]}" bootstrap \
        --bootstrap-password "$PASSWORD" \
        --bootstrap-admin-url "$AUTH_URL" \
        --bootstrap-internal-url "$AUTH_URL" \
        --bootstrap-public-url "$AUTH_URL" \
        --bootstrap-region-id "$REGION"
}

start_keystone() {
    bootstrap_keystone
    gunicorn_app keystone "$PORT_KEYSTONE" keystone.wsgi.api \
        OS_KEYSTONE_CONFIG_DIR "$ETC/keystone"
    wait_for keystone "GET /v3" http_ok "$AUTH_URL"
    once keystone-resources "$VENV/bin/python" "$HERE/resources.py" \
        --clouds "$ETC/clouds.yaml" identity \
        --password "$PASSWORD" --region "$REGION" \
        --endpoint "compute=nova=http://$ADDR:$PORT_NOVA/v2.1" \
        --endpoint "placement=placement=http://$ADDR:$PORT_PLACEMENT" \
        --endpoint "image=glance=http://$ADDR:$PORT_GLANCE" \
        --endpoint "network=neutron=http://$ADDR:$PORT_NEUTRON" \
        --endpoint "instance-ha=masakari=http://$ADDR:$PORT_MASAKARI/v1" \
        "${SERVICE_USERS[@]}"
}

start_placement() {
    once placement-db "$VENV/bin/placement-manage" --config-file \
        "$ETC/placement/placement.conf" db sync
    gunicorn_app placement "$PORT_PLACEMENT" placement.wsgi.api \
        OS_PLACEMENT_CONFIG_DIR "$ETC/placement"
}

start_glance() {
    once glance-db "$VENV/bin/glance-manage" --config-file \
        "$ETC/glance/glance-api.conf" db_sync
    gunicorn_app glance "$PORT_GLANCE" glance.wsgi.api \
        OS_GLANCE_CONFIG_DIR "$ETC/glance"
}

start_neutron() {
    once neutron-db "$VENV/bin/neutron-db-manage" --config-file \
        "$ETC/neutron/neutron.conf" --config-file \
        "$ETC/neutron/plugins/ml2/ml2_conf.ini" upgrade heads
    gunicorn_app neutron "$PORT_NEUTRON" neutron.wsgi.api \
        OS_NEUTRON_CONFIG_DIR "$ETC/neutron"
}

start_nova() {
    local manage=("$VENV/bin/nova-manage" --config-file "$ETC/nova/nova.conf")
    local c=(--config-file "$ETC/nova/nova.conf")
    once nova-api-db "${manage[@]}" api_db sync
    once nova-cell0 "${manage[@]}" cell_v2 map_cell0
    once nova-cell1 "${manage[@]}" cell_v2 create_cell --name cell1
    once nova-db "${manage[@]}" db sync
    # Other guests on this machine's libvirtd would stop nova-compute's
    # first start (tools/minicloud/compute_service.py says why).
    once nova-compute-service "$VENV/bin/python" \
        "$HERE/compute_service.py" "$ETC/nova/nova.conf" "$COMPUTE_HOST"
    gunicorn_app nova-api "$PORT_NOVA" nova.wsgi.osapi_compute \
        OS_NOVA_CONFIG_DIR "$ETC/nova"
    start nova-conductor - "$VENV/bin/nova-conductor" "${c[@]}"
    start nova-scheduler - "$VENV/bin/nova-scheduler" "${c[@]}"
    start nova-compute - "$VENV/bin/nova-compute" "${c[@]}"
}

start_masakari() {
    local c=(--config-file "$ETC/masakari/masakari.conf")
    once masakari-db "$VENV/bin/masakari-manage" "${c[@]}" db sync
    start masakari-api "$PORT_MASAKARI" "$VENV/bin/masakari-api" "${c[@]}"
    start masakari-engine - "$VENV/bin/masakari-engine" "${c[@]}"
    start masakari-bridge - "$VENV/bin/nova-vm-heartbeat-masakari-bridge" \
        --config-file "$ETC/bridge.conf"
}

# Every API answers, and nova-compute has reported its node.
wait_for_apis() {
    wait_for placement "GET /" http_ok "http://$ADDR:$PORT_PLACEMENT/"
    wait_for glance "GET /versions" http_answers \
        "http://$ADDR:$PORT_GLANCE/versions"
    wait_for neutron "GET /" http_answers "http://$ADDR:$PORT_NEUTRON/"
    wait_for nova-api "GET /v2.1" http_answers "http://$ADDR:$PORT_NOVA/v2.1"
    wait_for masakari-api "GET /" http_answers \
        "http://$ADDR:$PORT_MASAKARI/"
    wait_for nova-compute "the compute service up and its host mapped" \
        "$VENV/bin/python" "$HERE/resources.py" --clouds "$ETC/clouds.yaml" \
        compute-ready "$COMPUTE_HOST"
    note "mapping the compute host to cell1 (nova-manage cell_v2 discover_hosts)"
    "$VENV/bin/nova-manage" --config-file "$ETC/nova/nova.conf" cell_v2 \
        discover_hosts >>"$LOGS/bootstrap.log" 2>&1 \
        || die "nova-manage cell_v2 discover_hosts failed (log:" \
            "$LOGS/bootstrap.log)"
}

guest_image() {
    local image
    image=$(NOVA_VM_HEARTBEAT_CACHE=$CACHE_DIR "$VENV/bin/python" \
        "$TOP/tools/guest-image/build.py" 2>>"$LOGS/guest-image.log") \
        || die "the guest image could not be built (log:" \
            "$LOGS/guest-image.log)"
    printf '%s\n' "$image"
}

create_resources() {
    local image
    say "the test guest image (tools/guest-image/build.py, cached)"
    image=$(guest_image)
    note "$image"
    say "images, flavors, the Masakari segment, tempest.conf"
    "$VENV/bin/python" "$HERE/resources.py" --clouds "$ETC/clouds.yaml" \
        cloud --image-dir "$image" --host "$COMPUTE_HOST" \
        --tempest-conf "$ETC/tempest.conf" --state-dir "$MC" \
        --transport-url "$(rabbit_url)" \
        --host-command "$TOP/tools/minicloud.sh host" \
        >>"$LOGS/bootstrap.log" 2>&1 \
        || { tail -n 25 "$LOGS/bootstrap.log" >&2
             die "creating the cloud's resources failed (log:" \
                 "$LOGS/bootstrap.log). Fix: correct the cause and run" \
                 "'$0 up' again"; }
    note "tempest.conf: $ETC/tempest.conf"
}

# --- commands -----------------------------------------------------------------

make_dirs() {
    mkdir -p "$MC" "$ETC" "$RUN" "$LOGS" "$STAMPS" "$MC/nova/instances" \
        "$MC/glance/images" "$MC/lock"
    chmod 0755 "$MC" "$MC/nova" "$MC/nova/instances"
}

cmd_up() {
    local started=$SECONDS
    require_root up
    make_dirs
    say "state in $MC"
    ensure_packages
    say "libvirtd and virtlogd (tools/prepare-host.sh)"
    "$TOP/tools/prepare-host.sh" >"$LOGS/prepare-host.log" 2>&1 \
        || die "tools/prepare-host.sh failed (log: $LOGS/prepare-host.log)"
    say "Python packages"
    ensure_venv
    ensure_secret
    write_configs
    say "MariaDB and RabbitMQ"
    start_mariadb
    ensure_databases
    start_rabbitmq
    say "keystone"
    start_keystone
    say "placement, glance, neutron, nova, masakari, the bridge"
    start_placement
    start_glance
    start_neutron
    start_nova
    start_masakari
    wait_for_apis
    create_resources
    say "up in $((SECONDS - started)) s; '$0 env' prints the client settings"
}

cmd_down() {
    local i name
    require_root down
    say "stopping the services started from $MC"
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        name=${SERVICES[i]}
        case $name in
            rabbitmq) stop_rabbitmq ;;
            nova-compute) stop "$name" "$COMPUTE_STOP_TIMEOUT" ;;
            *) stop "$name" ;;
        esac
    done
    destroy_guests
    say "down"
}

# The guests of this cloud: domains named after its template.
destroy_guests() {
    command -v virsh >/dev/null || return 0
    local domain
    for domain in $(virsh -c qemu:///system list --all --name 2>/dev/null \
                    | grep '^nvhmc-' || true); do
        note "destroying the guest $domain"
        virsh -c qemu:///system destroy "$domain" >/dev/null 2>&1 || true
        virsh -c qemu:///system undefine --nvram "$domain" >/dev/null 2>&1 \
            || virsh -c qemu:///system undefine "$domain" >/dev/null 2>&1 \
            || true
    done
}

cmd_status() {
    local name pid rc=0
    for name in "${SERVICES[@]}"; do
        if pid=$(pid_of "$name"); then
            printf '%-16s running (pid %s)\n' "$name" "$pid"
        else
            printf '%-16s stopped\n' "$name"
            rc=3
        fi
    done
    return "$rc"
}

# --- host: what the tempest plugin's host-access tests do ---------------------

# The compute service's admin socket answers (the monitor runs).
monitor_answers() {
    "$MC/venv/bin/nova-vm-heartbeat" status --json --timeout 5 \
        --config-file "$ETC/nova/nova.conf"
}

start_compute_and_wait() {
    VENV=$(readlink -f "$MC/venv")
    start nova-compute - "$VENV/bin/nova-compute" --config-file \
        "$ETC/nova/nova.conf"
    wait_for nova-compute "the heartbeat monitor's admin socket" \
        monitor_answers
    wait_for nova-compute "the compute service up" "$VENV/bin/python" \
        "$HERE/resources.py" --clouds "$ETC/clouds.yaml" compute-ready \
        "$COMPUTE_HOST"
}

stop_compute() {
    stop nova-compute "$COMPUTE_STOP_TIMEOUT"
    rm -f "$RUN/heartbeat-admin.sock"
}

cmd_host() {
    local action=${1:-} domain
    require_root host
    case $action in
        status) monitor_answers ;;
        restart-compute)
            pid_of nova-compute >/dev/null || die "nova-compute is not" \
                "running: '$0 up' first"
            stop_compute
            start_compute_and_wait >&2 ;;
        reboot-host)
            pid_of nova-compute >/dev/null || die "nova-compute is not" \
                "running: '$0 up' first"
            stop_compute >&2
            for domain in $(virsh -c qemu:///system list --name \
                            | grep '^nvhmc-' || true); do
                note "destroying $domain (a host reboot)" >&2
                virsh -c qemu:///system destroy "$domain" >/dev/null
            done
            # libvirtd on this machine is shared with others' guests and
            # was not started by this script: it is left running.
            note "libvirtd left running (shared; not ours to restart)" >&2
            start_compute_and_wait >&2 ;;
        dumpxml)
            [[ -n ${2:-} ]] || die "usage: $0 host dumpxml SERVER_UUID"
            virsh -c qemu:///system dumpxml "$2" ;;
        compute-log) tail -n 50000 "$LOGS/nova-compute.log" ;;
        *) die "usage: $0 host status|restart-compute|reboot-host|" \
               "dumpxml UUID|compute-log" ;;
    esac
}

cmd_env() {
    ensure_secret
    cat <<EOF
export OS_AUTH_URL=$AUTH_URL
export OS_USERNAME=admin OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
export OS_PASSWORD=$PASSWORD OS_REGION_NAME=$REGION
export OS_IDENTITY_API_VERSION=3
export PATH=$MC/venv/bin:\$PATH
EOF
}

main() {
    case ${1:-} in
        up) cmd_up ;;
        down) cmd_down ;;
        status) cmd_status ;;
        env) cmd_env ;;
        host) shift; cmd_host "$@" ;;
        -h|--help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
