#!/usr/bin/env bash
# Set up everything the tests need, then run every test tier.
#
# This is the one command a contributor (and CI, through .ci/run) runs.
# On a fresh Debian 12 machine it installs the missing system packages
# (as root), builds a Python virtualenv in a cache directory, installs the
# Python requirements and this package (editable) into it, and runs the
# tiers one after another. Run with --help for the options.

set -Eeuo pipefail
trap 'printf "ERROR: exit status %s from: %s\n" "$?" "$BASH_COMMAND" >&2' ERR

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly TOP
readonly CACHE_DIR=${NOVA_VM_HEARTBEAT_CACHE:-$HOME/.cache/nova-vm-heartbeat}
readonly PYTHON=${PYTHON:-python3}
readonly MIN_PYTHON=3.10
readonly ALL_TIERS=(pep8 mypy unit functional consumers nova hypervisor live docs releasenotes)
# What runs with no TIER named, and so in CI: every tier.
readonly DEFAULT_TIERS=("${ALL_TIERS[@]}")
readonly JUNIT_DIR=$TOP/build/junit
# Mirrors [build-system] requires in pyproject.toml (setuptools 70.1 is the
# first with bdist_wheel built in). Installed up front so that the editable
# install needs no isolated build environment, and no network when warm.
readonly BUILD_REQUIREMENTS=("pbr>=6.1" "setuptools>=70.1")

VENV=""                 # set by setup()
APT_UPDATED=no
declare -A TIER_STATUS=() TIER_SECONDS=()
declare -A TIER_COVERAGE=()
SELECTED_TIERS=()
SETUP_ONLY=no
NO_SETUP=no
EXTRA_ARGS=()           # after --: given to the test runner of each tier

usage() {
    cat <<EOF
Usage: ./tools/test.sh [--setup-only] [TIER...]

Installs what the tests need and runs the test tiers, in this order:
  pep8          flake8 with the OpenStack hacking rules, and vermin to keep
                guest-side code (common/, protocol/, guest/) Python 3.8-compatible
  mypy          strict type checking (configuration: [mypy] in setup.cfg)
  unit          pytest tests/unit (HYPOTHESIS_PROFILE=ci unless set)
  functional    pytest tests/functional (the RabbitMQ tests start a private
                broker with tools/rabbitmq.sh when none runs, and stop it)
  consumers     pytest tests/functional/consumers: the Masakari bridge
                against a real masakari-api (noauth2, SQLite) and the Vitrage
                datasource inside a real vitrage-graph, both on RabbitMQ
  nova          stestr tests/functional_nova: Nova's in-process harness (API,
                conductor, scheduler, placement, compute on fake libvirt)
                with our driver, run twice: in Nova's threading mode and in
                eventlet mode (test ids prefixed threading. / eventlet.)
  hypervisor    pytest tests/functional/hypervisor: real guests on real
                libvirtd + QEMU (TCG) and the fault matrix; as root it
                prepares the host with tools/prepare-host.sh and builds
                the guest image (cached); not as root, skipped unless the
                host is ready
  live          a real cloud on this machine (tools/minicloud.sh up: keystone,
                placement, glance, neutron API, nova with our driver,
                masakari, the bridge), 'tempest run' of the tempest plugin
                (nova_vm_heartbeat_tempest_plugin) against it (the tests
                that restart nova-compute after the others, one at a
                time), the quick tests again, then tools/minicloud.sh down;
                root only: not as root it is skipped and says so (and
                under CI a tier that ran no test fails)
  docs          sphinx-build -W of doc/source
  releasenotes  sphinx-build -W of releasenotes/source (reno)
With no TIER, all of them run. A failing tier does not stop the
others.

Set-up, done on every run and quick when nothing changed:
  - system packages from bindep.txt (profile "test"): installed with
    apt-get when run as root, otherwise listed with the command to run;
  - a virtualenv in \$NOVA_VM_HEARTBEAT_CACHE (default
    ~/.cache/nova-vm-heartbeat), reused while the Python version and the
    requirements files are unchanged, linked from .venv in the tree.

--setup-only does the set-up and runs no tier (tools/demo.sh uses it).
--no-setup runs the tiers with the tools on PATH (tox uses it: each tox
environment runs "tools/test.sh --no-setup TIER -- {posargs}"); arguments
after -- go to the test runner (pytest or stestr) of the tiers.

The unit and functional tiers run under coverage; the summary gives each
one's total (reports in build/coverage/TIER/). With CI set, a test tier in
which no test ran, or every test was skipped, fails.

Environment: PYTHON (interpreter, default python3), NOVA_VM_HEARTBEAT_CACHE,
HYPOTHESIS_PROFILE (dev or ci, default ci).
Exit status: 0 only if every selected tier passed and, when a test tier
was selected, at least one test ran.
EOF
}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

banner() {
    printf '\n'
    printf '=%.0s' {1..72}
    printf '\n  %s\n' "$*"
    printf '=%.0s' {1..72}
    printf '\n'
}

# --- arguments ------------------------------------------------------------

is_tier() {
    local tier
    for tier in "${ALL_TIERS[@]}"; do
        [[ $tier == "$1" ]] && return 0
    done
    return 1
}

parse_args() {
    local arg
    while [[ $# -gt 0 ]]; do
        arg=$1; shift
        case $arg in
            -h|--help) usage; exit 0 ;;
            --setup-only) SETUP_ONLY=yes ;;
            --no-setup) NO_SETUP=yes ;;
            --) EXTRA_ARGS=("$@"); break ;;
            -*) usage >&2; die "unknown option: $arg" ;;
            *) is_tier "$arg" || die "unknown tier '$arg' (tiers: ${ALL_TIERS[*]})"
               SELECTED_TIERS+=("$arg") ;;
        esac
    done
    if [[ ${#SELECTED_TIERS[@]} -eq 0 ]]; then
        SELECTED_TIERS=("${DEFAULT_TIERS[@]}")
    fi
}

# --- system packages --------------------------------------------------------

is_root() { [[ $(id -u) -eq 0 ]]; }
have_apt() { command -v apt-get >/dev/null 2>&1; }

apt_install() {
    if [[ $APT_UPDATED == no ]]; then
        say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        APT_UPDATED=yes
    fi
    say "apt-get install -y --no-install-recommends $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "$@"
}

# Install the named Debian packages, or explain how and stop.
install_system_packages() {
    if is_root && have_apt; then
        apt_install "$@"
        return
    fi
    printf 'Missing system packages: %s\n' "$*" >&2
    if have_apt; then
        printf 'Install them with:\n    sudo apt-get install -y --no-install-recommends %s\n' "$*" >&2
    else
        printf 'Install them with your distribution'"'"'s package manager.\n' >&2
    fi
    printf 'then run %s again.\n' "$0" >&2
    exit 1
}

# Python and its venv module are needed before bindep can run (bindep is
# installed into the virtualenv), so check for them by hand first.
ensure_python() {
    say "checking for $PYTHON with the venv module"
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        note "$PYTHON not found"
        install_system_packages python3 python3-venv
    fi
    if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        note "$PYTHON cannot create virtualenvs (no ensurepip)"
        install_system_packages python3-venv
    fi
    "$PYTHON" - "$MIN_PYTHON" <<'EOF' || die "Python >= $MIN_PYTHON is required"
import sys
wanted = tuple(int(p) for p in sys.argv[1].split("."))
print("    found Python %d.%d.%d at %s" % (sys.version_info[:3] + (sys.executable,)))
sys.exit(0 if sys.version_info[:2] >= wanted else 1)
EOF
}

# Ask bindep which of the packages in bindep.txt are missing.
ensure_bindep_packages() {
    say "checking system packages from bindep.txt (bindep -b test)"
    local missing
    missing=$("$VENV/bin/bindep" -b test) || true
    if [[ -z $missing ]]; then
        note "all present"
        return
    fi
    # shellcheck disable=SC2086  # one package per line, no spaces in names
    install_system_packages $missing
    missing=$("$VENV/bin/bindep" -b test) || true
    [[ -z $missing ]] || die "still missing after install: $missing"
}

# --- the virtualenv ---------------------------------------------------------

venv_key() {
    {
        "$PYTHON" -c 'import sys; print(sys.version)'
        cat "$TOP/requirements.txt" "$TOP/test-requirements.txt" \
            "$TOP/doc/requirements.txt" "$TOP/openstack-requirements.txt"
    } | sha256sum | cut -c1-16
}

venv_pip() {
    "$VENV/bin/python" -m pip --disable-pip-version-check "$@"
}

venv_is_complete() { [[ -f $VENV/.complete ]]; }

create_venv() {
    if [[ -e $VENV ]]; then
        say "removing the incomplete virtualenv $VENV"
        rm -rf "$VENV"
    fi
    say "creating the virtualenv $VENV"
    mkdir -p "$CACHE_DIR"
    "$PYTHON" -m venv "$VENV"
    say "installing bindep and the build requirements into it"
    venv_pip install -q --upgrade pip
    venv_pip install -q bindep "${BUILD_REQUIREMENTS[@]}"
}

install_requirements() {
    say "installing requirements.txt, test-requirements.txt," \
        "doc/requirements.txt and openstack-requirements.txt (about a minute)"
    venv_pip install -q -r "$TOP/requirements.txt" \
        -r "$TOP/test-requirements.txt" -r "$TOP/doc/requirements.txt" \
        -r "$TOP/openstack-requirements.txt"
}

# The editable install points at this tree, and the cached virtualenv may
# be shared by several checkouts, so it is redone on every run.
install_package() {
    say "installing nova-vm-heartbeat from $TOP (editable)"
    local log=$VENV/install-package.log
    if ! venv_pip install --no-deps --no-build-isolation -e "$TOP" \
            >"$log" 2>&1; then
        cat "$log" >&2
        die "could not install the package (log above, also in $log)"
    fi
}

link_venv() {
    local link=$TOP/.venv
    if [[ -e $link && ! -L $link ]]; then
        warn "$link exists and is not a symlink; leaving it alone"
        return
    fi
    ln -sfn "$VENV" "$link"
    note ".venv -> $VENV"
}

# pbr, openstackdocstheme and reno all read the git history.
check_git_history() {
    if ! git -C "$TOP" rev-parse --verify -q HEAD >/dev/null; then
        warn "this tree has no commits yet: pbr versions the package 0.0.0," \
            "and the docs and releasenotes tiers fail until the first commit"
    fi
}

setup() {
    ensure_python
    check_git_history
    VENV=$CACHE_DIR/venv-$(venv_key)
    if venv_is_complete; then
        say "reusing the virtualenv $VENV"
        ensure_bindep_packages
    else
        create_venv
        ensure_bindep_packages
        install_requirements
        touch "$VENV/.complete"
    fi
    install_package
    link_venv
    export PATH=$VENV/bin:$PATH
    # Tools such as sphinx-build colour their output when CI is set; keep
    # logs that go to a file or a CI console plain.
    [[ -t 1 ]] || export NO_COLOR=1
}

# --- the tiers --------------------------------------------------------------

# Echo a command, run it, and return its exit status for the caller to judge.
run() {
    printf '+ %s\n' "$*"
    local rc=0
    "$@" || rc=$?
    return "$rc"
}

tier_pep8() {
    local rc=0
    # No paths: flake8 checks the whole tree minus [flake8] exclude (tox.ini).
    run flake8 || rc=1
    run tools/check-guest-compat.sh || rc=1
    return "$rc"
}

tier_mypy() {
    run mypy
}

# pytest's exit status 5 means it collected no tests.
run_pytest() {
    local tier=$1; shift
    local rc=0 runner=(python -m pytest)
    [[ $tier == unit || $tier == functional ]] && runner=(coverage_run "$tier")
    run "${runner[@]}" --junitxml="$JUNIT_DIR/$tier.xml" "$@" \
        ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"} || rc=$?
    if [[ $rc -eq 5 ]]; then
        note "$tier: no tests collected"
        TIER_STATUS[$tier]="no tests"
        return 0
    fi
    return "$rc"
}

# pytest under coverage; the report goes to build/coverage/TIER/ and its
# total to TIER_COVERAGE for the summary.
coverage_run() {
    local tier=$1; shift
    local dir=$TOP/build/coverage/$tier rc=0 total
    rm -rf "$dir"
    mkdir -p "$dir"
    COVERAGE_FILE=$dir/.coverage python -m coverage run \
        --source=nova_vm_heartbeat -m pytest "$@" || rc=$?
    if total=$(COVERAGE_FILE=$dir/.coverage python -m coverage report \
            --format=total 2>/dev/null); then
        TIER_COVERAGE[$tier]=$total
        COVERAGE_FILE=$dir/.coverage python -m coverage report \
            >"$dir/report.txt" 2>&1 || true
        note "$tier: coverage $total% (build/coverage/$tier/report.txt)"
    fi
    return "$rc"
}

tier_unit() {
    HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci} run_pytest unit tests/unit
}

tier_functional() {
    run_pytest functional tests/functional \
        --ignore=tests/functional/hypervisor \
        --ignore=tests/functional/consumers
}

tier_consumers() {
    run_pytest consumers tests/functional/consumers
}

tier_hypervisor() {
    NOVA_VM_HEARTBEAT_HYPERVISOR=1 run_pytest hypervisor \
        tests/functional/hypervisor
}

# Nova's TestCases break under pytest: this tier runs stestr (.stestr.conf),
# once per concurrency mode, and writes one junit file whose test ids say
# the mode (tools/subunit-junit.py).
tier_nova() {
    local rc=0 mode patching modes_dir=$JUNIT_DIR/nova-modes
    local runs=()
    mkdir -p "$modes_dir"
    for mode in threading eventlet; do
        [[ $mode == threading ]] && patching=1 || patching=0
        note "nova: $mode mode (OS_NOVA_DISABLE_EVENTLET_PATCHING=$patching)"
        OS_NOVA_DISABLE_EVENTLET_PATCHING=$patching \
            run stestr run --concurrency 2 \
            ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"} || rc=1
        stestr last --subunit >"$modes_dir/$mode.subunit" || rc=1
        runs+=("$mode=$modes_dir/$mode.subunit")
    done
    run python tools/subunit-junit.py "$JUNIT_DIR/nova.xml" "${runs[@]}" \
        || rc=1
    return "$rc"
}

readonly MINICLOUD=$TOP/tools/minicloud.sh
readonly MINICLOUD_DIR=${NVH_MINICLOUD_DIR:-/var/lib/nova-vm-heartbeat-minicloud}
# The plugin's tests, and the quick ones run again on the same cloud.
# The tests that restart nova-compute or destroy the cloud's domains run
# on their own, one at a time, after the others (they would disturb the
# guests of tests running beside them).
readonly LIVE_REGEX='^nova_vm_heartbeat_tempest_plugin\.(?!tests\.scenario\.test_host\.)'
readonly LIVE_HOST_REGEX='^nova_vm_heartbeat_tempest_plugin\.tests\.scenario\.test_host\.'
readonly LIVE_AGAIN_REGEX='^nova_vm_heartbeat_tempest_plugin\.tests\.scenario\.(test_flavor_validation|test_recovery\.GuestRecoveryTest\.test_hung_guest_is_recovered)'

# tempest run LABEL REGEX: in the cloud's tempest workspace, with its venv;
# the subunit stream goes to $JUNIT_DIR/live-runs/LABEL.subunit. No
# group_regex: the two workers share out single tests, not whole classes
# (each test boots its own guests; the classes have no shared resources).
live_tempest() {
    local label=$1 regex=$2 concurrency=${3:-2} venv=$MINICLOUD_DIR/venv rc=0
    local workspace=$MINICLOUD_DIR/tempest out=$JUNIT_DIR/live-runs
    mkdir -p "$workspace" "$out"
    "$venv/bin/python" - "$workspace" <<'EOF2'
import os, sys, tempest
lib = os.path.dirname(os.path.dirname(tempest.__file__))
with open(os.path.join(sys.argv[1], ".stestr.conf"), "w") as conf:
    conf.write("[DEFAULT]\ntest_path=%s/tempest/test_discover\n"
               "top_dir=%s\n" % (lib, lib))
EOF2
    (cd "$workspace" && run "$venv/bin/tempest" run --config-file \
        "$MINICLOUD_DIR/etc/tempest.conf" --regex "$regex" \
        --concurrency "$concurrency") || rc=$?
    (cd "$workspace" && "$venv/bin/stestr" last --subunit \
        >"$out/$label.subunit") || rc=1
    LIVE_RUNS+=("$label=$out/$label.subunit")
    return "$rc"
}

tier_live() {
    if ! is_root; then
        note "live: skipped: it needs root (it installs and runs MariaDB," \
            "RabbitMQ, the OpenStack services and libvirt guests): run" \
            "'sudo ./tools/test.sh live'"
        TIER_STATUS[live]="no tests (not root)"
        return 0
    fi
    local rc=0
    LIVE_RUNS=()
    if run "$MINICLOUD" up; then
        live_tempest first "$LIVE_REGEX" || rc=1
        live_tempest host "$LIVE_HOST_REGEX" 1 || rc=1
        live_tempest again "$LIVE_AGAIN_REGEX" || rc=1
        run python tools/subunit-junit.py "$JUNIT_DIR/live.xml" \
            "${LIVE_RUNS[@]}" || rc=1
    else
        rc=1
    fi
    run "$MINICLOUD" down || rc=1
    return "$rc"
}

tier_docs() {
    run sphinx-build -W --keep-going -E -b html doc/source doc/build/html
}

tier_releasenotes() {
    run sphinx-build -W -E -b html releasenotes/source releasenotes/build/html
}

run_tier() {
    local tier=$1 start rc=0
    banner "tier: $tier"
    start=$SECONDS
    "tier_$tier" || rc=$?
    TIER_SECONDS[$tier]=$((SECONDS - start))
    if [[ $rc -ne 0 ]]; then
        TIER_STATUS[$tier]="FAILED (exit $rc)"
    elif [[ -n ${CI:-} ]] && ! tests_ran "$tier"; then
        TIER_STATUS[$tier]="FAILED (${TIER_STATUS[$tier]:-no test passed})"
    elif [[ -z ${TIER_STATUS[$tier]:-} ]]; then
        TIER_STATUS[$tier]=passed
    fi
    say "$tier: ${TIER_STATUS[$tier]}"
}

# --- the summary ------------------------------------------------------------

# Print "tests failures errors skipped" for one junit file ("-" if absent).
junit_counts() {
    local file=$JUNIT_DIR/$1.xml
    [[ -f $file ]] || { echo "-"; return; }
    python - "$file" <<'EOF' || echo "-"
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except ET.ParseError as err:
    sys.exit("cannot count the tests in %s: %s" % (sys.argv[1], err))
suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
totals = [0, 0, 0, 0]
for suite in suites:
    for i, key in enumerate(("tests", "failures", "errors", "skipped")):
        totals[i] += int(suite.get(key, 0))
print(*totals)
EOF
}

is_test_tier() {
    [[ $1 == unit || $1 == functional || $1 == hypervisor \
        || $1 == nova || $1 == consumers || $1 == live ]]
}

# Whether a test tier ran a test that did not skip (other tiers: true).
tests_ran() {
    local counts tests failures errors skipped
    is_test_tier "$1" || return 0
    counts=$(junit_counts "$1")
    [[ $counts != "-" ]] || return 1
    read -r tests failures errors skipped <<<"$counts"
    if [[ $tests -gt 0 && $skipped -eq $tests ]]; then
        TIER_STATUS[$1]="every test skipped"
    fi
    [[ $((tests - failures - errors - skipped)) -gt 0 ]]
}

summarize() {
    local tier counts tests failures errors skipped passed
    local total_passed=0 total_failed=0 total_skipped=0 any_failed=no
    local pytest_selected=no
    banner "summary"
    printf '%-14s %-27s %8s  %s\n' tier result seconds tests
    for tier in "${SELECTED_TIERS[@]}"; do
        counts=$(junit_counts "$tier")
        local detail=""
        if [[ $counts != "-" ]]; then
            read -r tests failures errors skipped <<<"$counts"
            passed=$((tests - failures - errors - skipped))
            total_passed=$((total_passed + passed))
            total_failed=$((total_failed + failures + errors))
            total_skipped=$((total_skipped + skipped))
            detail="$passed passed, $((failures + errors)) failed, $skipped skipped"
        fi
        is_test_tier "$tier" && pytest_selected=yes
        [[ -n ${TIER_COVERAGE[$tier]:-} ]] \
            && detail+="; coverage ${TIER_COVERAGE[$tier]}%"
        [[ ${TIER_STATUS[$tier]} == FAILED* ]] && any_failed=yes
        printf '%-14s %-27s %8s  %s\n' "$tier" "${TIER_STATUS[$tier]}" \
            "${TIER_SECONDS[$tier]}" "$detail"
    done
    printf '\n'
    if [[ $pytest_selected == yes && $((total_passed + total_failed + total_skipped)) -eq 0 ]]; then
        warn "no tests ran"
        any_failed=yes
    fi
    printf 'total: %d passed, %d failed, %d skipped\n' \
        "$total_passed" "$total_failed" "$total_skipped"
    [[ $any_failed == yes ]] && return 1
    return 0
}

# One run at a time in a tree: a second one would delete this one's
# results (build/junit) and share its venv. (A pid file, not flock: the
# daemons a run starts would inherit the lock's descriptor.)
claim_tree() {
    local pidfile=$TOP/build/test.pid other
    mkdir -p "$TOP/build"
    other=$(cat "$pidfile" 2>/dev/null || true)
    if [[ -n $other && $other != "$$" ]] \
        && grep -qs test.sh "/proc/$other/cmdline"; then
        die "another ./tools/test.sh (pid $other) is running in $TOP;" \
            "wait for it to end, or run the tests from another clone"
    fi
    echo "$$" >"$pidfile"
}

main() {
    parse_args "$@"
    cd "$TOP"
    claim_tree
    if [[ $SETUP_ONLY == yes ]]; then
        say "nova-vm-heartbeat: setting up the tests in $TOP (no tier runs)"
    else
        say "nova-vm-heartbeat tests in $TOP; tiers: ${SELECTED_TIERS[*]}"
    fi
    [[ $NO_SETUP == yes ]] || setup
    if [[ $SETUP_ONLY == yes ]]; then
        say "set up; no tier run (--setup-only)"
        return
    fi
    rm -rf "$JUNIT_DIR"
    mkdir -p "$JUNIT_DIR"
    local tier
    for tier in "${SELECTED_TIERS[@]}"; do
        run_tier "$tier"
    done
    summarize || exit 1
}

main "$@"
