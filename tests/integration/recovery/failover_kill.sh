#!/usr/bin/env bash
# A vault killed (SIGKILL) in the middle of a failover job: an unplanned failover that
# materializes a point into a raw image is running when the vault dies; after the restart
# the job must end cleanly by itself (resumed to done, or rolled back), the machine's state
# must match the job's outcome, the image (if any) must equal the source at the point, and a
# failover must work afterwards. Exit 1 on failure.
# Usage: failover_kill.sh LIFELINE_BINARY [WORK_DIR]
set -euo pipefail
bin=$(readlink -f "${1:?usage: failover_kill.sh LIFELINE_BINARY [WORK_DIR]}")
work=${2:-$(mktemp -d /tmp/ll-failover-kill.XXXXXX)}
rm -rf "$work"; mkdir -p "$work"; cd "$work"
for tool in sqlite3 python3 cmp; do
  command -v $tool >/dev/null || { echo "failover_kill: $tool is required and missing" >&2; exit 1; }
done
say() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "failover_kill FAILED: $*" >&2; exit 1; }
vault_pid=; agent_pid=
cleanup() { for p in $vault_pid $agent_pid; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
size_mib=1024
rep_port=$(free_port); api_port=$(free_port)
start_vault() {
  rm -f vault/run/endpoints.json
  "$bin" vault run --dir vault --listen 127.0.0.1:$rep_port --api 127.0.0.1:$api_port >> vault.out 2>> vault.log &
  vault_pid=$!
  for _ in $(seq 100); do [ -s vault/run/endpoints.json ] && break; sleep 0.1; done
  [ -s vault/run/endpoints.json ] || fail "vault did not start: $(tail -5 vault.log)"
}
state() { "$bin" machine status web1 --vault-dir vault --json | jq_ 'd["state"]'; }

say "1. A vault, an agent, a ${size_mib} MiB disk (768 MiB of data) protected until it has a point"
"$bin" vault init --dir vault --json > init.json
token=$(jq_ 'd["admin_token"]' < init.json); key=$(jq_ 'd["registration_key"]' < init.json)
sqlite3 vault/catalog.db "INSERT INTO policies(name,retention_seconds,crash_point_interval_seconds,app_point_interval_seconds,app_pre_hook,app_post_hook,rpo_warning_seconds,rpo_critical_seconds,streams,compression,bandwidth_limit_bytes_per_second) VALUES('fast',86400,3600,0,'','',1800,3600,4,'none',0);"
start_vault
api=$(jq_ 'd["api"]' < vault/run/endpoints.json)
export LIFELINE_TOKEN=$token
"$bin" agent register --vault "$api" --ca vault/pki/ca.crt --key "$key" --name site1 --dir agent 2> agent-register.log
"$bin" agent run --dir agent > agent.out 2> agent.log & agent_pid=$!
truncate -s ${size_mib}M source.img
head -c 768M /dev/urandom | dd of=source.img conv=notrunc bs=1M status=none
"$bin" machine protect web1 --disk "$work/source.img" --agent site1 --policy fast --vault-dir vault > /dev/null
npoints() { "$bin" point list web1 --vault-dir vault --json | jq_ 'len(d)'; }
for _ in $(seq 600); do [ "$(npoints)" -ge 1 ] && break; sleep 0.2; done
[ "$(npoints)" -ge 1 ] || fail "no recovery point after 120 s: $(tail -5 agent.log)"
# The first point lands just before the agent's report moves the machine to protected.
mstate() { "$bin" machine status web1 --vault-dir vault --json | jq_ 'd["state"]'; }
for _ in $(seq 300); do [ "$(mstate)" = protected ] && break; sleep 0.2; done
[ "$(mstate)" = protected ] || fail "web1 is $(mstate) after its first point"
point=$("$bin" point list web1 --vault-dir vault --json | jq_ 'd[-1]["id"]')
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=

say "2. Failover to point $point, materialized; the vault is killed while the job writes the image"
"$bin" failover start web1 --point "$point" --materialize --no-launch --vault-dir vault --json > fo.json 2> fo.err &
cli_pid=$!
img=vault/recovery/web1/web1-disk0.img
for _ in $(seq 600); do
  [ -f "$img" ] && [ "$(du -k "$img" | cut -f1)" -gt 65536 ] && break
  kill -0 $cli_pid 2>/dev/null || break
  sleep 0.02
done
kill -0 $cli_pid 2>/dev/null || fail "the failover finished before the vault could be killed: make the disk larger"
written_kib=$(du -k "$img" | cut -f1)
kill -9 "$vault_pid"; wait "$vault_pid" 2>/dev/null || true
wait $cli_pid 2>/dev/null && fail "the failover command reported success with its vault killed"
say "killed with ${written_kib} KiB of the image written; the machine was $(sqlite3 vault/catalog.db "SELECT state FROM machines WHERE name='web1'")"

say "3. Restart: the job ends by itself, and the machine matches its outcome"
start_vault
job=$("$bin" job list --catalog vault/catalog.db --json | jq_ '[j["id"] for j in d["jobs"] if j["kind"].startswith("failover")][0]')
for _ in $(seq 600); do
  js=$("$bin" job show "$job" --catalog vault/catalog.db --json | jq_ 'd["state"]')
  case "$js" in done|failed|rolled-back|cancelled) break ;; esac
  sleep 0.2
done
"$bin" job show "$job" --catalog vault/catalog.db >&2
st=$(state)
case "$js" in
  done)
    [ "$st" = failed-over ] || fail "job $job done but web1 is $st"
    cmp -s "$img" source.img || fail "the resumed failover's image differs from the source"
    outcome="resumed to done: web1 failed-over, image byte-equal to the source"
    "$bin" failover cancel web1 --vault-dir vault > /dev/null ;;
  rolled-back|failed)
    [ "$st" = protected ] || fail "job $job $js but web1 is $st"
    [ ! -e "$img" ] || fail "job $job $js left $img behind"
    outcome="rolled back: web1 protected, no image left" ;;
  *) fail "job $job did not end after the restart (state $js)" ;;
esac
[ "$(state)" = protected ] || fail "web1 is $(state) after the outcome was settled"

say "4. A failover works afterwards"
"$bin" failover start web1 --point "$point" --materialize --no-launch --vault-dir vault --json > fo2.json
cmp -s "$img" source.img || fail "the failover after the crash differs from the source"
[ "$(state)" = failed-over ] || fail "web1 is $(state) after the second failover"
echo "failover_kill: OK (vault killed mid-failover with ${written_kib} KiB written; job ${outcome}; a new failover is byte-equal)" >&2
