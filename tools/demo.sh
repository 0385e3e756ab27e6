#!/usr/bin/env bash
# The demo: the heartbeat monitor on a real local hypervisor.
#
# One command, as root, on a fresh Debian 12 machine:
#   1. prepares the host (tools/prepare-host.sh): installs QEMU, libvirt
#      and RabbitMQ with apt-get when missing, starts virtlogd and libvirtd;
#   2. builds the Python virtualenv (tools/test.sh --setup-only);
#   3. builds the guest image, or reuses the cached one
#      (tools/guest-image/build.py);
#   4. runs tools/demo.py: boots two guests, shows the monitor's live status
#      table, hangs one guest, prints the notification from the bus, and
#      removes everything it started (also on Ctrl-C).
# Each step says what it does; the slow ones (package installation, image
# build, boot) show their progress.

set -Eeuo pipefail
trap 'printf "ERROR: exit status %s from: %s\n" "$?" "$BASH_COMMAND" >&2' ERR

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly TOP

banner() { printf '\n### %s\n' "$*"; }

usage() {
    sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    printf '\nUsage: %s  (as root; no options)\n' "$0"
}

main() {
    case ${1:-} in
        -h|--help) usage; exit 0 ;;
        "") ;;
        *) usage >&2; exit 2 ;;
    esac
    if [[ $(id -u) -ne 0 ]]; then
        printf 'The demo starts libvirt guests on qemu:///system and may '
        printf 'install packages: run it as root (sudo %s).\n' "$0" >&2
        exit 1
    fi
    cd "$TOP"

    banner "1/4 preparing the host: QEMU, libvirt, RabbitMQ (tools/prepare-host.sh)"
    ./tools/prepare-host.sh

    banner "2/4 the Python virtualenv (tools/test.sh --setup-only; a few minutes the first time)"
    ./tools/test.sh --setup-only

    banner "3/4 the guest image (tools/guest-image/build.py; about 20 s the first time)"
    local image
    image=$(.venv/bin/python tools/guest-image/build.py | tail -n 1)
    printf '    image: %s\n' "$image"

    banner "4/4 the demo (tools/demo.py; Ctrl-C stops it and cleans up)"
    exec .venv/bin/python tools/demo.py "$image"
}

main "$@"
