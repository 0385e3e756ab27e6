#!/usr/bin/env bash
# Check that the guest-side code runs on the oldest python3 we support in
# guests. common/, protocol/ and guest/ are imported by the in-guest agent, which
# uses the image's own python3; the host side needs 3.10 and is not checked
# here. Run from the repository root, with vermin on PATH.
set -euo pipefail

readonly GUEST_PYTHON=3.8
readonly GUEST_DIRS=(nova_vm_heartbeat/common nova_vm_heartbeat/protocol
                     nova_vm_heartbeat/guest)

dirs=()
for dir in "${GUEST_DIRS[@]}"; do
    [[ -d $dir ]] && dirs+=("$dir")
done
if [[ ${#dirs[@]} -eq 0 ]]; then
    echo "vermin: no guest-side code yet (${GUEST_DIRS[*]}), nothing to check"
    exit 0
fi
echo "vermin: ${dirs[*]} must run on Python $GUEST_PYTHON"
exec vermin --target="$GUEST_PYTHON-" --no-tips --violations "${dirs[@]}"
