#!/usr/bin/env bash
# A real VM's data survives failover and failback, end to end: a vault and an agent over TLS
# on loopback, a 64 MiB disk protected in nbd mode; VM #1 (Linux under qemu TCG, built by
# make_test_vm.sh) boots from the agent's NBD disk and writes the mark ALPHA; the primary is
# lost, VM #2 boots from the failover export and must find ALPHA, writes BRAVO; commit,
# offline re-protect, 1 MiB more written through the export, failback: the original disk file
# must hold BRAVO and equal the recovered disk; the agent starts
# again and VM #3 boots from its NBD disk and must find BRAVO, writes CHARLIE, which must
# reach the vault's newest point. Prints a report with each step's time; exit 1 on failure.
# Usage: vm_failover_failback.sh LIFELINE_BINARY [WORK_DIR]  (LIFELINE_VM_CACHE: VM cache dir)
set -euo pipefail
bin=$(readlink -f "${1:?usage: vm_failover_failback.sh LIFELINE_BINARY [WORK_DIR]}")
src_dir=$(cd "$(dirname "$0")/../../.." && pwd)
# The same cache as the capture VM test (build/test-cache/vm): the kernel is fetched once.
cache=${LIFELINE_VM_CACHE:-$(dirname "$(dirname "$(dirname "$bin")")")/test-cache/vm}
work=${2:-$(mktemp -d /tmp/ll-vm-story.XXXXXX)}
rm -rf "$work"; mkdir -p "$work"; cd "$work"
for tool in qemu-system-x86_64 qemu-img qemu-io busybox cpio apt-get dpkg-deb timeout flock python3 bc; do
  command -v $tool >/dev/null || { echo "vm_failover_failback: $tool is required and missing" >&2; exit 1; }
done
say() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "vm_failover_failback FAILED: $*" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
now() { date +%s.%N; }
since() { printf '%.2f' "$(echo "$(now) - $1" | bc -l)"; }
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
mib=$((1024 * 1024))
t0=$(now)

say "0. The test VM (kernel + busybox initramfs) in $cache"
ts=$(now)
"$src_dir/tests/integration/capture/make_test_vm.sh" "$cache" > vm-build.log 2>&1 \
  || fail "cannot build the test VM (kernel download?): $(tail -5 vm-build.log)"
t_build=$(since "$ts")

# boot_vm NAME MARK NBD_URL: boots the VM on the disk at NBD_URL with lifeline.mark=MARK; sets
# vm_prev (the guest's LIFELINE-VM-PREV text) and vm_secs; fails unless the guest says VM-OK.
boot_vm() {
  local name=$1 mark=$2 url=$3 drive ts
  drive=$(python3 - "$url" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
assert u.scheme == "nbd" and u.hostname and u.port, "not an nbd://HOST:PORT[/EXPORT] URL: " + sys.argv[1]
d = "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=%s,file.server.port=%d" % (u.hostname, u.port)
export = urllib.parse.unquote(u.path.lstrip("/"))
if export:
    d += ",file.export=" + export.replace(",", ",,")
print(d + ",if=virtio,cache=none")
PY
) || fail "$name: bad NBD URL '$url'"
  ts=$(now)
  timeout 120 qemu-system-x86_64 -accel tcg -smp 1 -m 256 -nographic -no-reboot -nic none \
    -kernel "$cache/vmlinuz" -initrd "$cache/initramfs.gz" \
    -append "console=ttyS0 quiet panic=-1 lifeline.mark=$mark" -drive "$drive" </dev/null 2>&1 \
    | tr -d '\r' > "$name.console" || true
  vm_secs=$(since "$ts")
  grep -a 'LIFELINE-VM-' "$name.console" | sed 's/^.*LIFELINE-VM-/  LIFELINE-VM-/' >&2 || true
  grep -aq 'LIFELINE-VM-OK' "$name.console" || fail "$name did not report LIFELINE-VM-OK: $(tail -c 2000 "$name.console")"
  grep -aq "LIFELINE-VM-MARK: $mark\$" "$name.console" || fail "$name did not take the mark $mark from its command line"
  vm_prev=$(grep -a 'LIFELINE-VM-PREV:' "$name.console" | sed 's/^.*LIFELINE-VM-PREV: \{0,1\}//' | head -n1)
}
# mark_at FILE: the first line of the 64 KiB block at 8 MiB; fails unless the whole block is
# lines of that text and the 4 MiB at 1 MiB are the guest's pattern 0xA7.
mark_at() {
  python3 - "$1" <<'PY'
import sys
with open(sys.argv[1], "rb") as f:
    f.seek(8 << 20); block = f.read(65536)
    f.seek(1 << 20); pattern = f.read(4 << 20)
text = block.split(b"\n")[0]
ok = len(text) > 0 and block == ((text + b"\n") * 65536)[:65536] and pattern == b"\xa7" * (4 << 20)
print(text.decode("ascii", "replace") if ok else "BAD:" + repr(block[:40]))
PY
}

agent_json() { "$bin" machine status vm1 --vault-dir vault --json | jq_ "(d['disks'][0].get('agent') or {}).get('$1', '')"; }
# wait_covered AGENT_LOG: waits until the vault acknowledged every write the agent captured and a
# recovery point covers it. The agent reports every 0.5 s, so the first second lets the report
# catch up with writes the guest made just before it powered off; the seq is re-read each time.
wait_covered() {
  local last newest i
  sleep 1
  for i in $(seq 300); do
    last=$(agent_json last_seq)
    newest=$("$bin" point list vm1 --vault-dir vault --json | jq_ 'max([p["seq"] for p in d] or [0])')
    if [ -n "$last" ] && [ "$last" -gt 0 ] && [ "$(agent_json acked_seq)" -ge "$last" ] && [ "$newest" -ge "$last" ]; then
      return 0
    fi
    sleep 0.2
  done
  fail "no recovery point covers the agent's writes (seq $last) after 60 s: $(tail -5 "$1")"
}

say "1. Vault and agent on loopback (TLS), a 64 MiB source disk protected in nbd mode"
ts=$(now)
"$bin" vault init --dir vault --json > init.json
token=$(jq_ 'd["admin_token"]' < init.json); key=$(jq_ 'd["registration_key"]' < init.json)
"$bin" vault run --dir vault --listen 127.0.0.1:$(free_port) --api 127.0.0.1:$(free_port) > vault.out 2> vault.log & pids+=($!)
for i in $(seq 100); do [ -s vault/run/endpoints.json ] && break; sleep 0.1; done
[ -s vault/run/endpoints.json ] || fail "vault did not start: $(cat vault.log)"
api=$(jq_ 'd["api"]' < vault/run/endpoints.json)
export LIFELINE_TOKEN=$token LIFELINE_VAULT_DIR=$work/vault
"$bin" agent register --vault "$api" --ca vault/pki/ca.crt --key "$key" --name site1 --dir agent 2> agent-register.log \
  || "$bin" agent register --vault "$api" --ca "$(jq_ 'd["ca"]' < vault/run/endpoints.json)" --key "$key" --name site1 --dir agent
"$bin" agent run --dir agent > agent.out 2> agent.log & agent_pid=$!; pids+=($agent_pid)
truncate -s 64M source.img
nbd_port=$(free_port)
"$bin" machine protect vm1 --disk "$work/source.img" --agent site1 --mode nbd --nbd-listen 127.0.0.1:$nbd_port \
  --point-interval 1 --vault-dir vault > /dev/null
agent_url=""
for i in $(seq 300); do
  [ "$(agent_json initial_complete)" = True ] && agent_url=$(agent_json nbd_url) && [ -n "$agent_url" ] && break
  sleep 0.2
done
[ -n "$agent_url" ] || fail "the agent does not serve vm1 over NBD after 60 s: $(tail -5 agent.log)"
[ "$agent_url" = "nbd://127.0.0.1:$nbd_port" ] || fail "agent serves $agent_url, not port $nbd_port"
t_protect=$(since "$ts")

say "2. VM #1 boots from the agent's disk ($agent_url) and writes ALPHA"
boot_vm vm1-alpha ALPHA "$agent_url"; t_vm1=$vm_secs; prev1=$vm_prev
[ -z "$prev1" ] || fail "VM #1 found '$prev1' on a fresh disk"
[ "$(mark_at source.img)" = ALPHA ] || fail "the source disk does not hold ALPHA after VM #1: $(mark_at source.img)"
ts=$(now)
wait_covered agent.log
t_point=$(since "$ts")
npoints=$("$bin" point list vm1 --vault-dir vault --json | jq_ 'len(d)')

say "3. The primary site is lost (agent stopped); failover (export), VM #2 boots from the export and writes BRAVO"
kill $agent_pid; wait $agent_pid 2>/dev/null || true
ts=$(now)
"$bin" failover start vm1 --no-launch --vault-dir vault --json > failover.json
t_failover=$(since "$ts")
fo_url=$(jq_ 'd["failover"]["disks"][0]["nbd_url"]' < failover.json)
boot_vm vm2-bravo BRAVO "$fo_url"; t_vm2=$vm_secs; prev2=$vm_prev
[ "$prev2" = ALPHA ] || fail "VM #2 found '$prev2' at 8 MiB, expected ALPHA (VM #1's data did not survive failover)"
qemu-img convert -f raw -O raw "$fo_url" recovered.img
[ "$(mark_at recovered.img)" = BRAVO ] || fail "the failover export does not hold BRAVO: $(mark_at recovered.img)"
[ "$(mark_at source.img)" = ALPHA ] || fail "the lost primary's disk changed during the failover"

say "4. Commit, re-protect (offline, into the original disk), failback"
ts=$(now)
"$bin" failover commit vm1 --vault-dir vault --json > commit.json
t_commit=$(since "$ts")
ts=$(now)
"$bin" machine reprotect vm1 --target "vm1-disk0=$work/source.img" --vault-dir vault --json > reprotect.json
t_reprotect=$(since "$ts")
rp_sent=$(jq_ 'd["failover"]["reprotect"][0]["blocks_sent"]' < reprotect.json)
rp_blocks=$(jq_ 'd["failover"]["reprotect"][0]["blocks"]' < reprotect.json)
# The recovered machine goes on writing after the re-protect (1 MiB at 16 MiB, through its
# export): these writes reach the original disk only with the failback.
qemu-io -f raw -c 'write -P 0x44 16M 1M' "$fo_url" > /dev/null
qemu-img convert -f raw -O raw "$fo_url" recovered.img
ts=$(now)
"$bin" failback start vm1 --vault-dir vault --json > failback.json
t_failback=$(since "$ts")
fb_sent=$(jq_ 'd["failback"][0]["blocks_sent"]' < failback.json)
dir_fb=$("$bin" machine status vm1 --vault-dir vault --json | jq_ 'd["state"]+"/"+d["direction"]')
[ "$dir_fb" = protected/forward ] || fail "after failback vm1 is $dir_fb"
[ "$fb_sent" -ge 16 ] || fail "failback sent $fb_sent blocks for 1 MiB written after the re-protect"
orig=$(mark_at source.img)
[ "$orig" = BRAVO ] || fail "after failback the original disk holds '$orig' at 8 MiB, expected BRAVO"
cmp -s recovered.img source.img || fail "after failback the original disk differs from the recovered disk"

say "5. The agent runs again; VM #3 boots from its NBD disk and writes CHARLIE"
ts=$(now)
"$bin" agent run --dir agent > agent2.out 2> agent2.log & agent_pid=$!; pids+=($agent_pid)
served=0
for i in $(seq 300); do
  if [ "$(agent_json nbd_url)" = "$agent_url" ] && [ "$(agent_json capture_state)" = streaming ] \
     && qemu-img info -f raw "$agent_url" > /dev/null 2>&1; then served=1; break; fi
  sleep 0.2
done
[ $served = 1 ] || fail "the agent does not serve vm1 again after 60 s: $(tail -5 agent2.log)"
t_agent2=$(since "$ts")
# The failback's resync request: block hashes compared, only the blocks that differ sent
# (the recovery site's writes, not the 1024 blocks of the disk).
sync_field() { "$bin" machine status vm1 --vault-dir vault --json | jq_ "((d['disks'][0].get('agent') or {}).get('sync') or {}).get('$1', '')"; }
for i in $(seq 100); do [ -n "$(sync_field blocks_compared)" ] && break; sleep 0.2; done
rs_changed=$(sync_field blocks_changed); rs_compared=$(sync_field blocks_compared); rs_bytes=$(sync_field bytes_sent)
[ "$rs_compared" = 1024 ] || fail "the agent's resync compared '$rs_compared' blocks, expected 1024"
[ -n "$rs_changed" ] && [ "$rs_changed" -ge 1 ] && [ "$rs_changed" -le 51 ] \
  || fail "the agent's resync sent '$rs_changed' blocks, expected 1..51 (5% of 1024)"
boot_vm vm3-charlie CHARLIE "$agent_url"; t_vm3=$vm_secs; prev3=$vm_prev
[ "$prev3" = BRAVO ] || fail "VM #3 found '$prev3' at 8 MiB, expected BRAVO (the recovery site's writes did not survive failback)"
[ "$(mark_at source.img)" = CHARLIE ] || fail "the source disk does not hold CHARLIE after VM #3"

say "6. Forward replication resumed: the vault's newest point holds CHARLIE"
ts=$(now)
wait_covered agent2.log
t_point3=$(since "$ts")
"$bin" drill start vm1 --launcher-command 'exec sleep 300' --vault-dir vault --json > drill.json
qemu-img convert -f raw -O raw "$(jq_ 'd["exports"][0]["nbd_url"]' < drill.json)" final-drill.img
"$bin" drill cleanup vm1 --vault-dir vault > /dev/null 2>&1
vault_mark=$(mark_at final-drill.img)
[ "$vault_mark" = CHARLIE ] || fail "the vault's newest point holds '$vault_mark' at 8 MiB, expected CHARLIE"
# 64 KiB blocks where the vault's newest point differs from the primary disk.
replica_diff=$(python3 - final-drill.img source.img <<'PY'
import sys
a, b = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
n = 0
while True:
    x, y = a.read(65536), b.read(65536)
    if not x and not y: break
    n += x != y
print(n)
PY
)
[ "$replica_diff" = 0 ] || fail "the vault's newest point differs from the primary disk in $replica_diff blocks of 64 KiB"

echo
echo "============ lifeline VM failover/failback report ============"
printf "test VM                build %s s (cache %s)\n" "$t_build" "$cache"
printf "protect (nbd mode)     %s s until the agent served %s (64 MiB)\n" "$t_protect" "$agent_url"
printf "VM #1 on primary       boot to power-off %s s, PREV '%s', wrote ALPHA\n" "$t_vm1" "$prev1"
printf "recovery point         covered VM #1's writes %s s after power-off (%s points)\n" "$t_point" "$npoints"
printf "failover (export)      %s s, primary agent stopped\n" "$t_failover"
printf "VM #2 on export        boot to power-off %s s, PREV '%s', wrote BRAVO\n" "$t_vm2" "$prev2"
printf "commit                 %s s\n" "$t_commit"
printf "re-protect (offline)   %s s, %s of %s blocks sent into the original disk\n" "$t_reprotect" "$rp_sent" "$rp_blocks"
printf "failback               %s s, %s blocks sent home (1 MiB written after re-protect), vm1 %s, original disk holds %s\n" "$t_failback" "$fb_sent" "$dir_fb" "$orig"
printf "agent again            %s s until it served the disk again\n" "$t_agent2"
printf "resync by hashes       %s of %s blocks differed, %s bytes sent\n" "$rs_changed" "$rs_compared" "$rs_bytes"
printf "VM #3 on primary       boot to power-off %s s, PREV '%s', wrote CHARLIE\n" "$t_vm3" "$prev3"
printf "forward replication    newest point holds %s %s s after power-off\n" "$vault_mark" "$t_point3"
printf "replica vs primary     %s blocks of 64 KiB differ\n" "$replica_diff"
printf "total time             %s s\n" "$(since "$t0")"
echo "=============================================================="
echo "vm_failover_failback: OK" >&2
