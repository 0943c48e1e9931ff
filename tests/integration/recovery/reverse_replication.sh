#!/usr/bin/env bash
# Continuous re-protect and failback end to end with real processes, TLS on loopback: a vault
# at the recovery site and an agent at the primary site protect web1; the primary is lost and
# web1 fails over (materialized image, a writer as the recovered machine) and is committed;
# 1% of its blocks change; the primary site comes back with its own vault, an agent at the
# recovery site protects the recovered disk to it (seeded from the original disk: only the
# differing blocks are sent), every later write reaches the primary vault within seconds
# (measured: reverse RPO), and a failback while the writer runs until the last moment loses
# nothing; then the primary's agent replicates forward again, and a second failover and
# re-protect to the same primary vault work too. Prints a report; exit 1 on failure.
# With LOST_ORIGINAL=1 the original disk is gone when the primary site comes back: the
# reverse replication starts with a full copy (zero blocks never sent) and failback recreates it.
# Usage: [LOST_ORIGINAL=1] reverse_replication.sh LIFELINE_BINARY [WORK_DIR] [DISK_MIB]
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/timeline.sh"  # say, timeline
bin=$(readlink -f "${1:?usage: reverse_replication.sh LIFELINE_BINARY [WORK_DIR] [DISK_MIB]}")
work=${2:-$(mktemp -d /tmp/ll-reverse.XXXXXX)}
size_mib=${3:-64}
lost=${LOST_ORIGINAL:-0}
rm -rf "$work"; mkdir -p "$work"; cd "$work"
for tool in qemu-io qemu-img sqlite3 python3 bc; do
  command -v $tool >/dev/null || { echo "reverse_replication: $tool is required and missing" >&2; exit 1; }
done
fail() { echo "reverse_replication FAILED: $*" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
now() { date +%s.%N; }
t0=$(now)

# start_vault DIR: init, a 2 s policy named fast, run on loopback; sets $api and $token
start_vault() {
  "$bin" vault init --dir "$1" --json > "$1.init.json"
  token=$(jq_ 'd["admin_token"]' < "$1.init.json"); key=$(jq_ 'd["registration_key"]' < "$1.init.json")
  sqlite3 "$1/catalog.db" "INSERT INTO policies(name,retention_seconds,crash_point_interval_seconds,app_point_interval_seconds,app_pre_hook,app_post_hook,rpo_warning_seconds,rpo_critical_seconds,streams,compression,bandwidth_limit_bytes_per_second) VALUES('fast',86400,2,0,'','',1800,3600,2,'lz4',0);"
  "$bin" vault run --dir "$1" --listen 127.0.0.1:$(free_port) --api 127.0.0.1:$(free_port) > "$1.out" 2> "$1.log" & pids+=($!)
  for i in $(seq 100); do [ -s "$1/run/endpoints.json" ] && break; sleep 0.1; done
  [ -s "$1/run/endpoints.json" ] || fail "vault $1 did not start: $(cat "$1.log")"
  api=$(jq_ 'd["api"]' < "$1/run/endpoints.json")
}
# wait_state VAULT_DIR TOKEN MACHINE STATE/DIRECTION [TRIES]
wait_state() {
  local s=""
  for i in $(seq ${5:-300}); do
    s=$(LIFELINE_TOKEN=$2 "$bin" machine status "$3" --vault-dir "$1" --json | jq_ 'd["state"]+"/"+d["direction"]')
    [ "$s" = "$4" ] && return 0; sleep 0.2
  done
  fail "$3 at $1 is $s, expected $4"
}
maxseq() { LIFELINE_TOKEN=$2 "$bin" point list web1 --vault-dir "$1" --json | jq_ 'max([p["seq"] for p in d] or [0])'; }

say "1. Recovery site: vault; primary site: agent, a ${size_mib} MiB disk (half data)"
start_vault "$work/rvault"; rtoken=$token; rkey=$key
"$bin" agent register --vault "$api" --ca rvault/pki/ca.crt --key "$rkey" --name site-a --dir agent-a > /dev/null 2>&1
"$bin" agent run --dir agent-a > agent-a.out 2> agent-a.log & agent_a=$!; pids+=($agent_a)
truncate -s ${size_mib}M primary.img
head -c $((size_mib / 2))M /dev/urandom | dd of=primary.img conv=notrunc status=none
export LIFELINE_TOKEN=$rtoken
"$bin" machine protect web1 --disk "$work/primary.img" --agent site-a --policy fast --vault-dir rvault > /dev/null
wait_state rvault "$rtoken" web1 protected/forward 600

say "2. The primary site is lost; web1 fails over to a materialized image and is committed"
kill $agent_a; wait $agent_a 2>/dev/null || true
cat > writer.py <<'EOF'
# The recovered machine: once ./go exists, writes random 4 KiB blocks into its disk and the
# same bytes into shadow.img (what the disk must hold), fsyncing both, until SIGTERM.
import os, random, signal, sys, time
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
disk, shadow, go, count_file = sys.argv[1:5]
n = 0
while not stop:
    if not os.path.exists(go):
        time.sleep(0.05); continue
    fd_d = os.open(disk, os.O_WRONLY); fd_s = os.open(shadow, os.O_WRONLY)
    size = os.fstat(fd_d).st_size
    while not stop:
        off = random.randrange(size // 4096) * 4096
        data = os.urandom(4096)
        os.pwrite(fd_d, data, off); os.fsync(fd_d)
        os.pwrite(fd_s, data, off); os.fsync(fd_s)
        n += 1
        time.sleep(0.005)
    os.close(fd_d); os.close(fd_s)
with open(count_file, "w") as f:
    f.write(str(n))
EOF
"$bin" failover start web1 --materialize --vault-dir rvault --json \
  --launcher-command "exec python3 $work/writer.py \"\$LIFELINE_DISK_0\" $work/shadow.img $work/go $work/writes.count" > fo.json
image=$(jq_ 'd["failover"]["disks"][0]["image"]' < fo.json)
cp --sparse=always "$image" shadow.img
"$bin" failover commit web1 --vault-dir rvault > /dev/null
wait_state rvault "$rtoken" web1 committed/forward

# wr BLOCK: the recovered machine writes 64 KiB of fresh data at block BLOCK (disk and shadow)
wr() {
  head -c 64K /dev/urandom > blk
  dd if=blk of="$image" bs=64K seek="$1" conv=notrunc,fsync status=none
  dd if=blk of=shadow.img bs=64K seek="$1" conv=notrunc,fsync status=none
}
blocks=$((size_mib * 16))
changed=$(( (blocks + 99) / 100 ))
say "3. The recovered machine changes $changed of $blocks blocks (1%)"
for b in $(python3 -c "import random; print(' '.join(map(str, random.sample(range($blocks), $changed))))"); do wr "$b"; done

say "4. The primary site is back: its vault, and an agent at the recovery site registered with it"
start_vault "$work/pvault"; ptoken=$token; pkey=$key; papi=$api
"$bin" agent register --vault "$papi" --ca pvault/pki/ca.crt --key "$pkey" --name recovery-site --dir agent-r > /dev/null 2>&1
"$bin" agent run --dir agent-r > agent-r.out 2> agent-r.log & agent_r=$!; pids+=($agent_r)

if [ "$lost" = 1 ]; then
  say "   The original disk did not survive"
  rm -f primary.img
fi
# The blocks holding data at the recovery site: what a full copy must send.
data_blocks=$(python3 -c "
import sys
z = bytes(65536); n = 0
with open('shadow.img', 'rb') as f:
    while True:
        b = f.read(65536)
        if not b: break
        n += b != z[:len(b)]
print(n)")
say "5. Re-protect: reverse replication to the primary vault (seeded from the original disk)"
tr0=$(now)
"$bin" machine reprotect web1 --to-vault "$papi" --to-ca "$work/pvault/pki/ca.crt" --to-token "$ptoken" \
  --agent recovery-site --interval 2 --vault-dir rvault --json > reprotect.json || fail "re-protect failed: $(cat reprotect.json)"
wait_state rvault "$rtoken" web1 protected/reverse
tr1=$(now)
LIFELINE_TOKEN=$rtoken "$bin" failover status web1 --vault-dir rvault --json > rstatus.json
rp_phase=$(jq_ 'd["failover"]["reverse"]["disks"][0]["phase"]' < rstatus.json)
rp_blocks=$(jq_ 'd["failover"]["reverse"]["disks"][0]["blocks_sent"]' < rstatus.json)
rp_bytes=$(jq_ 'd["failover"]["reverse"]["disks"][0]["bytes_sent"]' < rstatus.json)
rp_wire=$(jq_ 'd["failover"]["reverse"]["disks"][0]["bytes_on_wire"]' < rstatus.json)
if [ "$lost" = 1 ]; then
  [ "$rp_phase" = initial-replication ] || fail "without the original disk the first sync was $rp_phase"
  [ "$rp_blocks" -eq "$data_blocks" ] || fail "the full copy sent $rp_blocks blocks; $data_blocks hold data"
else
  [ "$rp_phase" = resync ] || fail "the first reverse sync was $rp_phase, not a resync by hashes"
  [ "$rp_blocks" -ge "$changed" ] && [ "$rp_blocks" -le $((changed + 2)) ] \
    || fail "the reverse resync sent $rp_blocks blocks for $changed changed"
fi
LIFELINE_TOKEN=$ptoken "$bin" machine status web1 --vault-dir pvault >&2
# The recovery vault names where the reverse replica lives.
"$bin" machine status web1 --vault-dir rvault >&2
rrev=$("$bin" machine status web1 --vault-dir rvault --json | jq_ 'd.get("reverse", {}).get("vault", "")')
[ "$rrev" = "$papi" ] || fail "the recovery vault's status does not name the primary vault ($rrev)"
# The primary vault's newest point equals the recovered disk.
export LIFELINE_TOKEN=$ptoken
"$bin" drill start web1 --latest --launcher-command 'exec sleep 300' --vault-dir pvault --json > pdrill.json
qemu-img convert -f raw -O raw "$(jq_ 'd["exports"][0]["nbd_url"]' < pdrill.json)" pv-after-resync.img
"$bin" drill cleanup web1 --vault-dir pvault > /dev/null 2>&1
cmp -s pv-after-resync.img shadow.img || fail "the primary vault's replica differs from the recovered disk after re-protect"

say "6. Continuous: each write of the recovered machine reaches the primary vault within seconds"
lags=()
for i in 1 2 3 4 5; do
  before=$(maxseq pvault "$ptoken")
  b=$(python3 -c "import random; print(random.randrange($blocks))")
  tw=$(now); wr "$b"
  seen=""
  for try in 1 2 3; do
    for j in $(seq 200); do
      [ "$(maxseq pvault "$ptoken")" -gt "$before" ] && { seen=$(now); break; }
      sleep 0.1
    done
    [ -n "$seen" ] || fail "write $i did not reach the primary vault in 20 s"
    "$bin" drill start web1 --latest --launcher-command 'exec sleep 300' --vault-dir pvault --json > pdrill.json
    url=$(jq_ 'd["exports"][0]["nbd_url"]' < pdrill.json)
    qemu-img convert -f raw -O raw "$url" pv-now.img
    "$bin" drill cleanup web1 --vault-dir pvault > /dev/null 2>&1
    cmp -s pv-now.img shadow.img && break
    # A scan that read the block while it was being written: the next cycle sends it again.
    [ $try -lt 3 ] || fail "write $i: the primary vault's newest point differs from the recovered disk"
    before=$(maxseq pvault "$ptoken"); seen=""
  done
  lag=$(echo "$seen - $tw" | bc -l); lags+=("$lag")
  printf '  write %d (block %d): at the primary vault after %.2f s, newest point byte-exact\n' "$i" "$b" "$lag" >&2
done
lag_max=$(printf '%s\n' "${lags[@]}" | sort -g | tail -1)
lag_mean=$(printf '%s\n' "${lags[@]}" | python3 -c "import sys; v=[float(x) for x in sys.stdin]; print(sum(v)/len(v))")
"$bin" machine status web1 --vault-dir pvault --json > pstatus.json
rpo=$(jq_ 'd["disks"][0]["rpo_seconds"]' < pstatus.json)
phealth=$(jq_ 'd["health"]' < pstatus.json)
pstate=$(jq_ 'd["state"]' < pstatus.json)
[ "$pstate" = protected ] || fail "the primary vault shows web1 $pstate"
export LIFELINE_TOKEN=$rtoken

say "7. Failback while the recovered machine writes until the last moment"
touch go; sleep 3
tf0=$(now)
"$bin" failback start web1 --vault-dir rvault --json > failback.json || fail "failback failed: $(cat failback.json)"
wait_state rvault "$rtoken" web1 protected/forward
tf1=$(now)
[ -s writes.count ] || fail "the writer did not stop cleanly"
writes=$(cat writes.count)
[ "$writes" -gt 10 ] || fail "the writer wrote only $writes blocks"
cmp -s primary.img shadow.img || fail "failback lost data: the original disk differs from the recovered machine's last state"
fb_blocks=$(jq_ 'd["failback"][0]["blocks_sent"]' < failback.json)
pv_after=$(LIFELINE_TOKEN=$ptoken "$bin" machine status web1 --vault-dir pvault --json | jq_ 'd["state"]')
[ "$pv_after" = committed ] || fail "the primary vault's web1 is $pv_after after failback"
for i in $(seq 50); do grep -q "no longer assigned" agent-r.log && break; sleep 0.2; done
grep -q "no longer assigned" agent-r.log || fail "the recovery site's agent still replicates web1 after failback"

say "8. Forward again: the primary's agent sends what changed (block hashes) to the recovery vault"
before=$(maxseq rvault "$rtoken")
"$bin" agent run --dir agent-a > agent-a2.out 2> agent-a2.log & pids+=($!)
# The first cycle's figures, read while they are the agent's last phase.
fwd=""
for i in $(seq 300); do
  fwd=$("$bin" machine status web1 --vault-dir rvault --json | jq_ '(lambda l: "%d %d" % (l["blocks_changed"], l["bytes_sent"]) if l.get("point_seq", 0) > '"$before"' else "")(d["disks"][0].get("agent", {}).get("last") or {})')
  [ -n "$fwd" ] && break; sleep 0.2
done
[ -n "$fwd" ] || fail "forward replication did not resume: $(tail -3 agent-a2.log)"
fwd_blocks=${fwd% *}; fwd_bytes=${fwd#* }
# The agent's block map describes the recovery vault's replica: it sends what differs from it
# (with a lost original the failback rewrote every data block, but most are unchanged).
[ "$lost" = 1 ] || [ "$fwd_blocks" -eq "$fb_blocks" ] \
  || fail "forward again sent $fwd_blocks blocks; the failback changed $fb_blocks"
"$bin" drill start web1 --launcher-command 'exec sleep 300' --vault-dir rvault --json > rdrill.json
qemu-img convert -f raw -O raw "$(jq_ 'd["exports"][0]["nbd_url"]' < rdrill.json)" rv-final.img
"$bin" drill cleanup web1 --vault-dir rvault > /dev/null 2>&1
cmp -s rv-final.img primary.img || fail "the recovery vault's newest point differs from the primary disk after failback"

second=""
if [ "$lost" != 1 ]; then
  say "9. A second round to the same primary vault: fail over, commit, re-protect again"
  # The failback left web1 committed at the primary vault: the re-protect deletes it there and
  # protects it anew, seeded from the original disk; the recovery site's agent must not trust
  # the block hashes it kept from the first round.
  "$bin" failover start web1 --materialize --no-launch --vault-dir rvault --json > fo-2.json
  "$bin" failover commit web1 --vault-dir rvault > /dev/null
  tr2=$(now)
  "$bin" machine reprotect web1 --to-vault "$papi" --to-ca "$work/pvault/pki/ca.crt" --to-token "$ptoken" \
    --agent recovery-site --interval 2 --vault-dir rvault --json > reprotect-2.json \
    || fail "the second re-protect failed: $(cat reprotect-2.json)"
  wait_state rvault "$rtoken" web1 protected/reverse
  tr3=$(now)
  export LIFELINE_TOKEN=$ptoken
  "$bin" drill start web1 --latest --launcher-command 'exec sleep 300' --vault-dir pvault --json > pdrill-2.json
  qemu-img convert -f raw -O raw "$(jq_ 'd["exports"][0]["nbd_url"]' < pdrill-2.json)" pv-round2.img
  "$bin" drill cleanup web1 --vault-dir pvault > /dev/null 2>&1
  export LIFELINE_TOKEN=$rtoken
  cmp -s pv-round2.img "$(jq_ 'd["failover"]["disks"][0]["image"]' < fo-2.json)" \
    || fail "after the second re-protect the primary vault's replica differs from the recovered disk"
  second=$(printf "%.1f s, primary vault's replica == recovered disk" "$(echo "$tr3 - $tr2" | bc -l)")
fi
t1=$(now)

echo
echo "=============== lifeline reverse replication report ==============="
printf "disk                   %d MiB, %d blocks of 64 KiB; %d blocks (1%%) changed at the recovery site\n" $size_mib $blocks $changed
printf "original disk          %s\n" "$([ "$lost" = 1 ] && echo "lost: full copy ($data_blocks data blocks)" || echo "kept: seeds the primary vault's replica")"
printf "re-protect             %s: %s blocks sent (%s bytes; %s payload bytes on the wire), %.1f s\n" "$rp_phase" "$rp_blocks" "$rp_bytes" "$rp_wire" "$(echo "$tr1 - $tr0" | bc -l)"
rp_pct=$(echo "100 * $rp_bytes / ($size_mib * 1048576)" | bc -l)
printf "re-protect ratio       %.2f%% of the disk sent\n" "$rp_pct"
printf "reverse replication    5 writes at the primary vault after %.2f s on average, %.2f s at most (points every 2 s)\n" "$lag_mean" "$lag_max"
printf "reverse RPO            %.1f s, health %s (machine status at the primary vault)\n" "$rpo" "$phealth"
printf "failback               zero data loss with %s writes until the stop, %s blocks written into the original disk, %.1f s\n" "$writes" "$fb_blocks" "$(echo "$tf1 - $tf0" | bc -l)"
printf "forward again          primary agent resumed by hashes: %s blocks (%s bytes) sent to the recovery vault, recovery vault == primary disk\n" "$fwd_blocks" "$fwd_bytes"
[ -z "$second" ] || printf "second re-protect      to the same primary vault (its committed web1 deleted there), %s\n" "$second"
printf "total time             %.1f s\n" "$(echo "$t1 - $t0" | bc -l)"
timeline end "$(date +%s.%N)" "reverse replication"
timeline figure "re-protect ratio" "$(printf '%.2f%%' "$rp_pct") of the disk sent"
timeline figure "reverse RPO" "$(printf '%.1f s' "$rpo"), health $phealth"
timeline figure "failback" "zero data loss with $writes writes until the stop"
echo "==================================================================="
echo "reverse_replication: OK" >&2
