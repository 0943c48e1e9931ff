#!/usr/bin/env bash
# `lifeline machine delete` with a real vault and agent: a failed-over machine is refused
# (the message names the state and what to do), --force deletes it (failover export, catalog
# rows, replica, the agent stops reading the disk), and the same name protected again gets a
# whole new replica equal to the source (the agent does not trust the block hashes it kept
# for the deleted one). Exit 1 on failure.
# Usage: machine_delete.sh LIFELINE_BINARY [WORK_DIR]
set -euo pipefail
bin=$(readlink -f "${1:?usage: machine_delete.sh LIFELINE_BINARY [WORK_DIR]}")
work=${2:-$(mktemp -d /tmp/ll-machine-delete.XXXXXX)}
rm -rf "$work"; mkdir -p "$work"; cd "$work"
command -v python3 >/dev/null || { echo "machine_delete: python3 is required and missing" >&2; exit 1; }
fail() { echo "machine_delete FAILED: $*" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }

"$bin" vault init --dir vault --json > init.json
token=$(jq_ 'd["admin_token"]' < init.json); key=$(jq_ 'd["registration_key"]' < init.json)
"$bin" vault run --dir vault --listen 127.0.0.1:$(free_port) --api 127.0.0.1:$(free_port) > vault.out 2> vault.log & pids+=($!)
for _ in $(seq 100); do [ -s vault/run/endpoints.json ] && break; sleep 0.1; done
[ -s vault/run/endpoints.json ] || fail "vault did not start: $(cat vault.log)"
export LIFELINE_TOKEN=$token LIFELINE_VAULT_DIR=$work/vault
"$bin" agent register --vault "$(jq_ 'd["api"]' < vault/run/endpoints.json)" --ca vault/pki/ca.crt --key "$key" \
  --name site1 --dir agent > /dev/null
"$bin" agent run --dir agent > agent.out 2> agent.log & pids+=($!)
"$bin" policy set fast --interval 1s > /dev/null
truncate -s 8M source.img
head -c 4M /dev/urandom | dd of=source.img conv=notrunc status=none

protect_and_wait() {
  "$bin" machine protect web1 --disk "$work/source.img" --agent site1 --policy fast > /dev/null
  for _ in $(seq 300); do
    st=$("$bin" machine status web1 --json | jq_ 'd["state"]+" "+str(d["disks"][0].get("points", 0))')
    [ "${st%% *}" = protected ] && [ "${st##* }" -ge 1 ] && return 0
    sleep 0.1
  done
  fail "web1 not protected with a point: $st"
}
protect_and_wait
"$bin" failover start web1 --no-launch --json > fo.json

# Refused while failed over, with the state and the way out; nothing is removed.
if "$bin" machine delete web1 > refused.out 2>&1; then fail "delete of a failed-over machine accepted"; fi
rc=$("$bin" machine delete web1 > /dev/null 2>&1; echo $?) || true
[ "$rc" = 1 ] || fail "refusal exit code $rc, want 1"
grep -q "web1 is failed-over" refused.out && grep -q "lifeline failover cancel web1" refused.out \
  || fail "refusal does not name the state and what to do: $(cat refused.out)"
[ -d vault/store/disks/web1-disk0 ] || fail "a refused delete removed the replica"

# Forced: export, catalog rows and replica go; the agent stops reading the disk.
"$bin" machine delete web1 --force --json > deleted.json || fail "forced delete failed"
[ "$(jq_ 'd["disks"][0]["replica"]' < deleted.json)" = removed ] || fail "replica not removed: $(cat deleted.json)"
[ ! -e vault/store/disks/web1-disk0 ] || fail "replica directory left"
[ ! -e vault/recovery/web1 ] || fail "failover files left"
rc=$("$bin" machine status web1 > /dev/null 2>&1; echo $?) || true
[ "$rc" = 10 ] || fail "status of a deleted machine: exit $rc, want 10"
for _ in $(seq 50); do grep -q "web1-disk0: no longer assigned" agent.log && break; sleep 0.1; done
grep -q "web1-disk0: no longer assigned" agent.log || fail "the agent did not stop reading the disk"
rc=$("$bin" machine delete nosuch > /dev/null 2>&1; echo $?) || true
[ "$rc" = 10 ] || fail "delete of an unknown machine: exit $rc, want 10"

# The same name again: a new replica, filled from the source (not from stale hashes).
protect_and_wait
"$bin" failover start web1 --materialize --no-launch --json > fo2.json
cmp -s "$(jq_ 'd["failover"]["disks"][0]["image"]' < fo2.json)" source.img \
  || fail "the new replica of web1 differs from the source"
echo "machine_delete: OK (refused while failed-over, forced delete removed replica and export, same name protected again byte-exact)"
