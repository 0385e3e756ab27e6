#!/usr/bin/env bash
# Prepare this machine for the hypervisor test tier: real libvirtd + QEMU.
#
# Installs (as root, with apt-get) QEMU, libvirt, the build dependencies of
# libvirt-python and RabbitMQ; gives /dev/kvm to group kvm; then
# starts virtlogd and libvirtd (and RabbitMQ with --with-rabbitmq) when they
# are not running, and waits until libvirt answers on qemu:///system.
#
# Written for Debian 12 machines and containers without systemd: daemons
# are started by hand, never through an init system. Every step is skipped
# when already done, so a second run only checks and takes a second or two.
# Run with --help for the options.

set -Eeuo pipefail
trap 'printf "ERROR: exit status %s from: %s\n" "$?" "$BASH_COMMAND" >&2' ERR

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly TOP
readonly LIBVIRT_URI=qemu:///system
readonly LIBVIRT_WAIT=30        # seconds for libvirtd to answer
# What a hypervisor test run needs; bindep.txt (profile hypervisor)
# lists the same packages for bindep.
readonly PACKAGES=(
    qemu-system-x86             # the emulator (guests run under TCG)
    libvirt-daemon-system       # libvirtd, virtlogd, qemu.conf, users
    libvirt-clients             # virsh
    libvirt-dev pkg-config      # to build libvirt-python
    rabbitmq-server             # the notification broker of tier 4
)
# tools/guest-image/build.py needs nothing more: apt-get, apt-cache and
# dpkg-deb are on every Debian system, and it writes the cpio itself.

WITH_RABBITMQ=no
CHECK_ONLY=no
APT_UPDATED=no

usage() {
    cat <<EOF
Usage: $0 [--with-rabbitmq] [--check]

Prepares this machine for the hypervisor tests (real libvirtd and QEMU):
  1. installs the missing Debian packages with apt-get (as root):
     ${PACKAGES[*]}
  2. gives /dev/kvm to group kvm, as udev would (else libvirt probes QEMU
     again on every call); the tests' guests use TCG all the same;
  3. starts virtlogd and libvirtd when they are not running (no systemd:
     'virtlogd -d', 'libvirtd -d');
  4. waits until 'virsh -c $LIBVIRT_URI version' answers.

Options:
  --with-rabbitmq  also start RabbitMQ (through tools/rabbitmq.sh start)
  --check          change nothing: report what is missing or stopped, and
                   exit 1 if anything is
Not as root, nothing is changed: it prints what is missing and the
command to run.
EOF
}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

parse_args() {
    local arg
    for arg in "$@"; do
        case $arg in
            -h|--help) usage; exit 0 ;;
            --with-rabbitmq) WITH_RABBITMQ=yes ;;
            --check) CHECK_ONLY=yes ;;
            *) usage >&2; die "unknown argument: $arg" ;;
        esac
    done
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# --- packages ---------------------------------------------------------------

is_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == "ii "* ]]
}

missing_packages() {
    local package
    for package in "${PACKAGES[@]}"; do
        is_installed "$package" || printf '%s\n' "$package"
    done
}

apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -q -y \
        -o DPkg::Lock::Timeout=300 "$@"
}

# Without systemd, the postinst scripts of libvirt-daemon-system and
# rabbitmq-server may fail to start their daemons (invoke-rc.d cannot tell
# the runlevel, or a policy-rc.d denies it). That is fine: this script
# starts the daemons itself. A configure step that failed for that reason
# is retried once with 'dpkg --configure -a'.
install_packages() {
    if [[ $APT_UPDATED == no ]]; then
        say "apt-get update"
        apt_get update
        APT_UPDATED=yes
    fi
    say "apt-get install --no-install-recommends $*"
    if apt_get install --no-install-recommends "$@"; then
        return
    fi
    warn "apt-get install failed; retrying the configure step" \
        "(a daemon that cannot start without systemd is expected to fail)"
    DEBIAN_FRONTEND=noninteractive dpkg --configure -a || true
    local package still=()
    for package in "$@"; do
        is_installed "$package" || still+=("$package")
    done
    [[ ${#still[@]} -eq 0 ]] || die "not installed: ${still[*]}"
}

ensure_packages() {
    say "checking Debian packages"
    local missing
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -eq 0 ]]; then
        note "already installed: ${PACKAGES[*]}"
        return
    fi
    note "missing: ${missing[*]}"
    if [[ $CHECK_ONLY == yes ]]; then
        printf 'Install them with:\n' >&2
        printf '    sudo apt-get install -y --no-install-recommends %s\n' \
            "${missing[*]}" >&2
        FAILED=yes
        return
    fi
    install_packages "${missing[@]}"
}

# --- daemons ----------------------------------------------------------------

# True if the pid file names a live process with that command name.
pidfile_alive() {
    local pidfile=$1 name=$2 pid
    [[ -r $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]
}

# Start one libvirt daemon (virtlogd, libvirtd) unless it runs already.
ensure_daemon() {
    local name=$1 pidfile=/run/$1.pid
    if pidfile_alive "$pidfile" "$name"; then
        note "$name already running (pid $(<"$pidfile"))"
        return
    fi
    if [[ $CHECK_ONLY == yes ]]; then
        note "$name is not running"
        FAILED=yes
        return
    fi
    command -v "$name" >/dev/null || die "$name not found (is libvirt-daemon-system installed?)"
    say "starting $name -d"
    "$name" -d
    local _
    for _ in $(seq 50); do
        pidfile_alive "$pidfile" "$name" && break
        sleep 0.1
    done
    pidfile_alive "$pidfile" "$name" || die "$name did not start; look at /var/log/libvirt/"
    note "$name running (pid $(<"$pidfile"))"
}

wait_for_libvirt() {
    say "waiting for libvirt to answer on $LIBVIRT_URI"
    local deadline=$((SECONDS + LIBVIRT_WAIT)) output
    [[ $CHECK_ONLY == yes ]] && deadline=$SECONDS
    while true; do
        if output=$(virsh -c "$LIBVIRT_URI" version 2>&1); then
            printf '%s\n' "$output" | sed -n 's/^/    /; /hypervisor/Ip; /library/Ip'
            return
        fi
        if ((SECONDS >= deadline)); then
            printf '%s\n' "$output" >&2
            die "libvirt did not answer on $LIBVIRT_URI within ${LIBVIRT_WAIT} s"
        fi
        sleep 0.5
    done
}

# The tests need no libvirt network or storage pool (direct kernel boot,
# no disk or a file disk, no NIC), so the 'default' network is left alone.
ensure_rabbitmq() {
    local script=$TOP/tools/rabbitmq.sh
    if [[ ! -x $script ]]; then
        warn "--with-rabbitmq: $script does not exist yet; RabbitMQ not started"
        FAILED=yes
        return
    fi
    say "$script start"
    "$script" start || { warn "RabbitMQ did not start"; FAILED=yes; }
}

# libvirt runs QEMU as libvirt-qemu, of group kvm. Without udev, /dev/kvm
# stays root-only; libvirt 9.0 then finds its cached QEMU capabilities
# (probed with KVM) stale on every call and probes QEMU again, which makes
# each define or capabilities call take 10 to 60 s. Give /dev/kvm to group
# kvm, as udev does on an ordinary host. The tests still run their guests
# under TCG (<domain type='qemu'>): KVM is only made visible, not used.
ensure_kvm_device() {
    [[ -c /dev/kvm ]] || return 0
    local group mode
    group=$(stat -c %G /dev/kvm)
    mode=$((8#$(stat -c %a /dev/kvm)))
    if [[ $group == kvm ]] && (((mode & 8#060) == 8#060)); then
        note "/dev/kvm already usable by group kvm"
        return
    fi
    if [[ $CHECK_ONLY == yes ]]; then
        note "/dev/kvm is $group, mode $(stat -c %a /dev/kvm): libvirt re-probes QEMU on every call"
        FAILED=yes
        return
    fi
    getent group kvm >/dev/null || die "no group kvm (is libvirt-daemon-system installed?)"
    say "giving /dev/kvm to group kvm (mode 0660), as udev would"
    chgrp kvm /dev/kvm
    chmod 0660 /dev/kvm
}

ensure_daemons() {
    say "checking daemons"
    ensure_kvm_device
    ensure_daemon virtlogd
    ensure_daemon libvirtd
}

# Explain how to finish the job, and exit 1.
stop_unprepared() {
    if is_root; then
        printf 'Run %s (without --check) to %s.\n' "$0" "$1" >&2
    else
        printf 'Run as root to %s: sudo %s\n' "$1" "$0" >&2
    fi
    exit 1
}

main() {
    parse_args "$@"
    FAILED=no
    if ! is_root && [[ $CHECK_ONLY == no ]]; then
        note "not root: checking only"
        CHECK_ONLY=yes
    fi
    ensure_packages
    [[ $FAILED == no ]] || stop_unprepared "install them"
    ensure_daemons
    [[ $FAILED == no ]] || stop_unprepared "set /dev/kvm up and start the daemons"
    wait_for_libvirt
    [[ $WITH_RABBITMQ == yes ]] && ensure_rabbitmq
    [[ $FAILED == no ]] || exit 1
    say "this host is ready for the hypervisor tests"
}

main "$@"
