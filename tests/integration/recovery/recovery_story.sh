#!/usr/bin/env bash
# The recovery story end to end through the CLI, the REST API and real replication over
# loopback: protect a machine (scan mode), drill (export with a copy-on-write overlay, write
# through it with qemu-io, clean up: replica unchanged and scrub clean, point tagged), then an
# unplanned failover to a chosen point (the exported disk equals the source at that point),
# a change of point, commit (the other points dropped), re-protect (only changed blocks go
# back), failback, replication resuming and a planned failover without data loss. Prints a report; exit 1 on failure.
# Usage: recovery_story.sh LIFELINE_BINARY [WORK_DIR]
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/timeline.sh"  # say, timeline
bin=$(readlink -f "${1:?usage: recovery_story.sh LIFELINE_BINARY [WORK_DIR]}")
work=${2:-$(mktemp -d /tmp/ll-recovery-story.XXXXXX)}
rm -rf "$work"; mkdir -p "$work"; cd "$work"
for tool in qemu-io qemu-img sqlite3 python3; do
  command -v $tool >/dev/null || { echo "recovery_story: $tool is required and missing" >&2; exit 1; }
done
fail() { echo "recovery_story FAILED: $*" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
size_mib=32
t0=$(date +%s.%N)

say "1. Vault and agent on loopback (TLS), a ${size_mib} MiB source disk"
"$bin" vault init --dir vault --json > init.json
token=$(jq_ 'd["admin_token"]' < init.json); key=$(jq_ 'd["registration_key"]' < init.json)
# A policy that takes a point every 2 s, so the story does not wait minutes.
sqlite3 vault/catalog.db "INSERT INTO policies(name,retention_seconds,crash_point_interval_seconds,app_point_interval_seconds,app_pre_hook,app_post_hook,rpo_warning_seconds,rpo_critical_seconds,streams,compression,bandwidth_limit_bytes_per_second) VALUES('fast',86400,2,0,'','',1800,3600,2,'lz4',0);"
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
"$bin" vault run --dir vault --listen 127.0.0.1:$(free_port) --api 127.0.0.1:$(free_port) > vault.out 2> vault.log & pids+=($!)
for i in $(seq 100); do [ -s vault/run/endpoints.json ] && break; sleep 0.1; done
[ -s vault/run/endpoints.json ] || fail "vault did not start: $(cat vault.log)"
api=$(jq_ 'd["api"]' < vault/run/endpoints.json)
export LIFELINE_TOKEN=$token LIFELINE_VAULT_DIR=$work/vault
"$bin" agent register --vault "$api" --ca vault/pki/ca.crt --key "$key" --name site1 --dir agent 2> agent-register.log \
  || "$bin" agent register --vault "$api" --ca "$(jq_ 'd["ca"]' < vault/run/endpoints.json)" --key "$key" --name site1 --dir agent
"$bin" agent run --dir agent > agent.out 2> agent.log & agent_pid=$!; pids+=($agent_pid)
truncate -s ${size_mib}M source.img
head -c $((size_mib / 2))M /dev/urandom | dd of=source.img conv=notrunc status=none

say "2. Protect web1 and wait for two recovery points of two different disk states"
"$bin" machine protect web1 --disk "$work/source.img" --agent site1 --policy fast --vault-dir vault > /dev/null
npoints() { "$bin" point list web1 --vault-dir vault --json | jq_ 'len(d)'; }
for i in $(seq 300); do [ "$(npoints)" -ge 1 ] && break; sleep 0.2; done
[ "$(npoints)" -ge 1 ] || fail "no recovery point after 60 s: $(tail -5 agent.log)"
# The first point lands just before the agent's report moves the machine to protected.
mstate() { "$bin" machine status web1 --vault-dir vault --json | jq_ 'd["state"]'; }
for _ in $(seq 300); do [ "$(mstate)" = protected ] && break; sleep 0.2; done
[ "$(mstate)" = protected ] || fail "web1 is $(mstate) after its first point"
cp --sparse=always source.img state1.img
p1=$("$bin" point list web1 --vault-dir vault --json | jq_ 'd[-1]["id"]')
n1=$(npoints)
# The machine writes: 1 MiB at 20 MiB; the next scan ships it and takes a point.
head -c 1M /dev/urandom | dd of=source.img bs=1M seek=20 conv=notrunc status=none
cp --sparse=always source.img state2.img
for i in $(seq 300); do
  last_seq=$("$bin" point list web1 --vault-dir vault --json | jq_ 'd[-1]["seq"]')
  p1_seq=$("$bin" point list web1 --vault-dir vault --json | jq_ '[p["seq"] for p in d if p["id"]=='"$p1"'][0]')
  [ "$last_seq" -gt "$p1_seq" ] && break; sleep 0.2
done
[ "$last_seq" -gt "$p1_seq" ] || fail "the change did not replicate"
# A scan cycle already running during the write may have shipped only part of it; the next
# cycle (every 2 s) ships the rest and takes another point, and a cycle with no change takes
# none. So the last point is state 2 once no new point has come for two cycles.
for i in $(seq 10); do
  sleep 4
  seq_now=$("$bin" point list web1 --vault-dir vault --json | jq_ 'd[-1]["seq"]')
  [ "$seq_now" = "$last_seq" ] && break; last_seq=$seq_now
done
p2=$("$bin" point list web1 --vault-dir vault --json | jq_ 'd[-1]["id"]')
"$bin" point list web1 --vault-dir vault >&2
disk_dir=vault/store/disks/web1-disk0

say "3. Drill from point $p1: export (copy-on-write), start a copy, write through the overlay"
hash_before=$(find "$disk_dir" -type f \( -name '*.seg' -o -name 'base.img' -o -name '*.journal' \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
td0=$(date +%s.%N)
"$bin" drill start web1 --point "$p1" --launcher-command 'exec sleep 300' --vault-dir vault --json > drill.json
td1=$(date +%s.%N)
url=$(jq_ 'd["exports"][0]["nbd_url"]' < drill.json)
"$bin" drill status web1 --vault-dir vault >&2
qemu-img convert -f raw -O raw "$url" drill-read.img
cmp -s drill-read.img state1.img || fail "the drill export does not read as the source at point $p1"
qemu-io -f raw -c 'write -P 0x5a 0 1M' "$url" > /dev/null
qemu-io -f raw -c 'read -P 0x5a 0 1M' "$url" | grep -q "Pattern verification failed" && fail "drill write not visible"
"$bin" drill start web1 --vault-dir vault > /dev/null 2>&1 && fail "a second drill of web1 was accepted"
"$bin" drill cleanup web1 --note "boots" --vault-dir vault >&2
hash_after=$(find "$disk_dir" -type f \( -name '*.seg' -o -name 'base.img' -o -name '*.journal' \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
tagged=$("$bin" point list web1 --vault-dir vault --json | jq_ '[p["tags"] for p in d if p["id"]=='"$p1"'][0]')
echo "$tagged" | grep -q "tested at" || fail "point $p1 not tagged after the drill: $tagged"
[ -z "$(ls vault/recovery/overlays)" ] || fail "overlay left after cleanup"

say "4. The primary site is lost (agent gone). Unplanned failover to point $p1, change to $p2, commit"
kill $agent_pid; wait $agent_pid 2>/dev/null || true
"$bin" failover start web1 --point "$p1" --launcher-command 'exec sleep 300' --vault-dir vault --json > fo1.json
url=$(jq_ 'd["failover"]["disks"][0]["nbd_url"]' < fo1.json)
qemu-img convert -f raw -O raw "$url" fo1.img
cmp -s fo1.img state1.img || fail "failover at point $p1 differs from the source at that point"
"$bin" failover change-point web1 --point "$p2" --vault-dir vault --json > fo2.json
url=$(jq_ 'd["failover"]["disks"][0]["nbd_url"]' < fo2.json)
qemu-img convert -f raw -O raw "$url" fo2.img
cmp -s fo2.img state2.img || fail "failover at point $p2 differs from the source at that point"
"$bin" failover commit web1 --vault-dir vault --json > commit.json
left=$("$bin" point list web1 --vault-dir vault --json | jq_ 'len(d)')
dropped=$(jq_ 'd["failover"]["disks"][0]["points_dropped"]' < commit.json)
state=$("$bin" machine status web1 --vault-dir vault --json | jq_ 'd["state"]')
[ "$state" = committed ] || fail "state after commit is $state"
"$bin" failover change-point web1 --point "$p1" --vault-dir vault > /dev/null 2>&1 && fail "change-point accepted after commit"

say "5. The recovered machine writes 2 MiB; the primary is back: re-protect sends only changed blocks"
qemu-io -f raw -c 'write -P 0x33 4M 2M' "$url" > /dev/null
"$bin" machine reprotect web1 --vault-dir vault --json > reprotect.json
rp_sent=$(jq_ 'd["failover"]["reprotect"][0]["blocks_sent"]' < reprotect.json)
rp_blocks=$(jq_ 'd["failover"]["reprotect"][0]["blocks"]' < reprotect.json)
rp_mode=$(jq_ 'd["failover"]["reprotect"][0]["mode"]' < reprotect.json)
qemu-img convert -f raw -O raw "$url" recovered.img
cmp -s recovered.img source.img || fail "after re-protect the original disk differs from the recovered one"
dir_rp=$("$bin" machine status web1 --vault-dir vault --json | jq_ 'd["state"]+"/"+d["direction"]')
[ "$dir_rp" = protected/reverse ] || fail "after re-protect web1 is $dir_rp"

say "6. Failback: the recovered machine writes 1 MiB more, shuts down, the last changes go home"
qemu-io -f raw -c 'write -P 0x44 8M 1M' "$url" > /dev/null
qemu-img convert -f raw -O raw "$url" recovered-final.img
"$bin" failback start web1 --vault-dir vault --json > failback.json
fb_sent=$(jq_ 'd["failback"][0]["blocks_sent"]' < failback.json)
cmp -s recovered-final.img source.img || fail "after failback the primary disk lacks the recovery site's writes"
dir_fb=$("$bin" machine status web1 --vault-dir vault --json | jq_ 'd["state"]+"/"+d["direction"]')
[ "$dir_fb" = protected/forward ] || fail "after failback web1 is $dir_fb"

say "7. Back to normal: the agent replicates the primary again; a drill of the newest point proves it"
before=$("$bin" point list web1 --vault-dir vault --json | jq_ 'max([p["seq"] for p in d])')
"$bin" agent run --dir agent > agent2.out 2> agent2.log & pids+=($!)
for i in $(seq 300); do
  now=$("$bin" point list web1 --vault-dir vault --json | jq_ 'max([p["seq"] for p in d])')
  [ "$now" -gt "$before" ] && break; sleep 0.2
done
[ "$now" -gt "$before" ] || fail "replication did not resume after failback: $(tail -3 agent2.log)"
"$bin" drill start web1 --launcher-command 'exec sleep 300' --vault-dir vault --json > drill2.json
qemu-img convert -f raw -O raw "$(jq_ 'd["exports"][0]["nbd_url"]' < drill2.json)" final-drill.img
"$bin" drill cleanup web1 --vault-dir vault > /dev/null 2>&1
cmp -s final-drill.img source.img || fail "the replica's newest point after failback differs from the primary disk"

say "8. Planned failover: the machine writes 1 MiB and shuts down; nothing is lost"
head -c 1M /dev/urandom | dd of=source.img bs=1M seek=12 conv=notrunc status=none
tp0=$(date +%s.%N)
"$bin" failover start web1 --planned --no-launch --vault-dir vault --json > planned.json
tp1=$(date +%s.%N)
qemu-img convert -f raw -O raw "$(jq_ 'd["failover"]["disks"][0]["nbd_url"]' < planned.json)" planned.img
cmp -s planned.img source.img || fail "planned failover lost data: the recovered disk differs from the shut-down source"
# The agent confirmed the drain (a whole scan cycle after the request) and the failover is at
# exactly the seq it reported.
pjob=$(jq_ 'd["job"]' < planned.json)
drained=$("$bin" job log "$pjob" --catalog vault/catalog.db 2>&1 | sed -n 's/.*drained at seq \([0-9]*\).*/\1/p' | head -1)
[ -n "$drained" ] || fail "the agent did not confirm the drain (lifeline job log $pjob)"
[ "$(jq_ 'd["failover"]["disks"][0]["seq"]' < planned.json)" = "$drained" ] || fail "the planned failover is not at the drained seq $drained"
"$bin" job list --catalog vault/catalog.db >&2 || true
t1=$(date +%s.%N)

echo
echo "================ lifeline recovery report ================"
drill_s=$(echo "$td1 - $td0" | bc -l); planned_s=$(echo "$tp1 - $tp0" | bc -l)
printf "source disk            %d MiB, 2 states replicated (points %s and %s)\n" $size_mib "$p1" "$p2"
printf "drill start            %.2f s (export + start, nothing copied)\n" "$drill_s"
printf "drill                  export byte-exact, 1 MiB written through the overlay\n"
printf "replica after drill    %s (store files %s -> %s)\n" "$([ "$hash_before" = "$hash_after" ] && echo unchanged || echo CHANGED)" "$hash_before" "$hash_after"
printf "point %-16s %s\n" "$p1" "$tagged"
printf "failover               point %s byte-exact, change-point to %s byte-exact\n" "$p1" "$p2"
printf "commit                 state %s, %s other points dropped, %s point(s) left\n" "$state" "$dropped" "$left"
printf "re-protect             %s sync, %s of %s blocks sent (2 MiB written at the recovery site)\n" "$rp_mode" "$rp_sent" "$rp_blocks"
printf "failback               %s blocks sent home, web1 %s, replica follows the primary again\n" "$fb_sent" "$dir_fb"
printf "planned failover       zero data loss (recovered disk == shut-down source), agent drained at seq %s, %.1f s incl. drain\n" "$drained" "$planned_s"
printf "total time             %.1f s\n" "$(echo "$t1 - $t0" | bc -l)"
timeline end "$(date +%s.%N)" "recovery story"
timeline figure "drill start" "$(printf '%.2f s' "$drill_s")"
timeline figure "re-protect" "$rp_sent of $rp_blocks blocks sent"
timeline figure "planned failover" "zero data loss, $(printf '%.1f s' "$planned_s") incl. drain"
echo "=========================================================="
[ "$hash_before" = "$hash_after" ] || fail "the drill changed the replica's files"
[ "$left" -eq 1 ] || fail "commit left $left points"
[ "$rp_sent" -le 40 ] || fail "re-protect sent $rp_sent blocks for 2 MiB of changes"
echo "recovery_story: OK" >&2
