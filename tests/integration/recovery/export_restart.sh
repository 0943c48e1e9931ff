#!/usr/bin/env bash
# Exports survive a vault crash: a drill export and a failover export (export mode) are
# written through NBD, the vault is killed with SIGKILL and started again, and each export
# comes back at the same NBD URL with the writes made before the crash and the point's bytes
# everywhere else; then drill cleanup / failover cancel remove the export, its overlay and
# its pin. Exit 1 on failure.
# Usage: export_restart.sh LIFELINE_BINARY [WORK_DIR]
set -euo pipefail
bin=$(readlink -f "${1:?usage: export_restart.sh LIFELINE_BINARY [WORK_DIR]}")
work=${2:-$(mktemp -d /tmp/ll-export-restart.XXXXXX)}
rm -rf "$work"; mkdir -p "$work"; cd "$work"
for tool in qemu-io qemu-img sqlite3 python3; do
  command -v $tool >/dev/null || { echo "export_restart: $tool is required and missing" >&2; exit 1; }
done
say() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "export_restart FAILED: $*" >&2; exit 1; }
vault_pid=; agent_pid=
cleanup() { for p in $vault_pid $agent_pid; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
size_mib=16
rep_port=$(free_port); api_port=$(free_port)

start_vault() {
  rm -f vault/run/endpoints.json
  "$bin" vault run --dir vault --listen 127.0.0.1:$rep_port --api 127.0.0.1:$api_port >> vault.out 2>> vault.log &
  vault_pid=$!
  for i in $(seq 100); do [ -s vault/run/endpoints.json ] && break; sleep 0.1; done
  [ -s vault/run/endpoints.json ] || fail "vault did not start: $(tail -5 vault.log)"
}
crash_vault() {
  kill -9 "$vault_pid"; wait "$vault_pid" 2>/dev/null || true
  qemu-io -f raw -c 'read 0 4k' "$1" > /dev/null 2>&1 && fail "the export still answers with the vault killed"
  true
}
# expect FILE BASE PATTERN OFFSET_MIB LEN_MIB: BASE with LEN MiB of byte PATTERN at OFFSET.
expect() {
  cp --sparse=always "$2" "$1"
  python3 -c "import sys; sys.stdout.buffer.write(bytes([$3])*($5<<20))" |
    dd of="$1" bs=1M seek=$4 conv=notrunc status=none
}

say "1. A vault, an agent, a ${size_mib} MiB disk protected until it has a recovery point"
"$bin" vault init --dir vault --json > init.json
token=$(jq_ 'd["admin_token"]' < init.json); key=$(jq_ 'd["registration_key"]' < init.json)
sqlite3 vault/catalog.db "INSERT INTO policies(name,retention_seconds,crash_point_interval_seconds,app_point_interval_seconds,app_pre_hook,app_post_hook,rpo_warning_seconds,rpo_critical_seconds,streams,compression,bandwidth_limit_bytes_per_second) VALUES('fast',86400,2,0,'','',1800,3600,2,'lz4',0);"
start_vault
api=$(jq_ 'd["api"]' < vault/run/endpoints.json)
export LIFELINE_TOKEN=$token LIFELINE_VAULT_DIR=$work/vault
"$bin" agent register --vault "$api" --ca vault/pki/ca.crt --key "$key" --name site1 --dir agent 2> agent-register.log
"$bin" agent run --dir agent > agent.out 2> agent.log & agent_pid=$!
truncate -s ${size_mib}M source.img
head -c 8M /dev/urandom | dd of=source.img conv=notrunc status=none
"$bin" machine protect web1 --disk "$work/source.img" --agent site1 --policy fast --vault-dir vault > /dev/null
npoints() { "$bin" point list web1 --vault-dir vault --json | jq_ 'len(d)'; }
for i in $(seq 300); do [ "$(npoints)" -ge 1 ] && break; sleep 0.2; done
[ "$(npoints)" -ge 1 ] || fail "no recovery point after 60 s: $(tail -5 agent.log)"
# The first point lands just before the agent's report moves the machine to protected.
mstate() { "$bin" machine status web1 --vault-dir vault --json | jq_ 'd["state"]'; }
for i in $(seq 300); do [ "$(mstate)" = protected ] && break; sleep 0.2; done
[ "$(mstate)" = protected ] || fail "web1 is $(mstate) after its first point"
cp --sparse=always source.img state1.img
p1=$("$bin" point list web1 --vault-dir vault --json | jq_ 'd[-1]["id"]')

say "2. Drill from point $p1, 1 MiB written through the export, the vault killed (SIGKILL)"
"$bin" drill start web1 --point "$p1" --launcher-command 'exec sleep 300' --vault-dir vault --json > drill.json
url=$(jq_ 'd["exports"][0]["nbd_url"]' < drill.json)
qemu-io -f raw -c 'write -P 0x5a 1M 1M' "$url" > /dev/null
# A client holding the export open across the crash, reconnecting as qemu's launcher drives do.
port=${url#nbd://127.0.0.1:}; port=${port%%/*}; name=${url##*/}
timeout 60 qemu-io --image-opts "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=127.0.0.1,file.server.port=$port,file.export=$name,file.reconnect-delay=30" \
  -c 'read -P 0x5a 1M 64k' -c 'sleep 6000' -c 'read -P 0x5a 1M 1M' -c 'write -P 0x77 5M 64k' > client.out 2>&1 &
client_pid=$!
sleep 1
crash_vault "$url"

say "3. The vault starts again: the drill export is back at $url with its overlay"
start_vault
# A client that was connected through the crash (as the launcher's qemu is, with
# file.reconnect-delay) goes on once the export is back.
wait "$client_pid" || fail "a client connected through the restart failed: $(cat client.out)"
grep -q "Pattern verification failed" client.out && fail "the reconnected client read wrong data"
qemu-io -f raw -c 'read -P 0x5a 1M 1M' "$url" | grep -q "Pattern verification failed" && fail "the drill's write is lost"
qemu-img convert -f raw -O raw "$url" drill-after.img
expect drill-expect.img state1.img 0x5a 1 1
python3 -c "import sys; sys.stdout.buffer.write(bytes([0x77])*65536)" | dd of=drill-expect.img bs=64k seek=80 conv=notrunc status=none
cmp -s drill-after.img drill-expect.img || fail "the restored drill export does not read as point $p1 plus the write"
url_now=$("$bin" drill status web1 --vault-dir vault --json | jq_ 'd["exports"][0]["nbd_url"]')
[ "$url_now" = "$url" ] || fail "the drill export moved from $url to $url_now"
grep -q "export/" vault/store/disks/web1-disk0/PINS || fail "the drill's point is not pinned"
"$bin" drill cleanup web1 --vault-dir vault >&2
[ -z "$(ls vault/recovery/overlays)" ] || fail "overlay left after cleanup: $(ls vault/recovery/overlays)"
grep -q "export/" vault/store/disks/web1-disk0/PINS && fail "a pin left after cleanup"
qemu-io -f raw -c 'read 0 4k' "$url" > /dev/null 2>&1 && fail "the drill export answers after cleanup"

say "4. The primary is lost; failover (export mode) to point $p1, 1 MiB written, the vault killed"
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=
"$bin" failover start web1 --point "$p1" --no-launch --vault-dir vault --json > fo.json
furl=$(jq_ 'd["failover"]["disks"][0]["nbd_url"]' < fo.json)
qemu-io -f raw -c 'write -P 0x42 3M 1M' "$furl" > /dev/null
crash_vault "$furl"
start_vault
qemu-img convert -f raw -O raw "$furl" fo-after.img
expect fo-expect.img state1.img 0x42 3 1
cmp -s fo-after.img fo-expect.img || fail "the restored failover export does not read as point $p1 plus the write"
state=$("$bin" machine status web1 --vault-dir vault --json | jq_ 'd["state"]')
[ "$state" = failed-over ] || fail "after the restart web1 is $state"
"$bin" failover cancel web1 --vault-dir vault >&2
[ -z "$(ls vault/recovery/overlays)" ] || fail "overlay left after cancel"
grep -q "export/" vault/store/disks/web1-disk0/PINS && fail "a pin left after cancel"
state=$("$bin" machine status web1 --vault-dir vault --json | jq_ 'd["state"]')
[ "$state" = protected ] || fail "after cancel web1 is $state"
echo "export_restart: OK (drill and failover exports came back at the same URLs after SIGKILL)" >&2
