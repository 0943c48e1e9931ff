#!/usr/bin/env bash
# A recovery plan through the CLI on a real vault and agent (scan mode, loopback): two
# machines in two groups, a script after each group that records its environment. Each
# machine gets its launcher, size and a NIC through the CLI (`machine set`, `machine nic`),
# and its network a mapping (`netmap add`, a static drill address, `netmap preview`). The
# plan runs as a drill (`drill start --plan`), then as an unplanned failover (`failover start
# --plan`); each machine is committed and re-protected, and the plan brings both home
# (`failback start --plan`). Checks machine states, the scripts' LIFELINE_* variables, the
# address each launched copy got, and that each primary disk equals its recovered copy.
# Exit 1 on failure.
# Usage: plan_story.sh LIFELINE_BINARY [WORK_DIR]
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/timeline.sh"  # say
bin=$(readlink -f "${1:?usage: plan_story.sh LIFELINE_BINARY [WORK_DIR]}")
work=${2:-$(mktemp -d /tmp/ll-plan-story.XXXXXX)}
rm -rf "$work"; mkdir -p "$work"; cd "$work"
for tool in qemu-img qemu-io python3; do
  command -v $tool >/dev/null || { echo "plan_story: $tool is required and missing" >&2; exit 1; }
done
fail() { echo "plan_story FAILED: $*" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }

say "1. Vault, agent, two 16 MiB machines (web1, db1) protected every 2 s"
"$bin" vault init --dir vault --json > init.json
token=$(jq_ 'd["admin_token"]' < init.json); key=$(jq_ 'd["registration_key"]' < init.json)
"$bin" vault run --dir vault --listen 127.0.0.1:$(free_port) --api 127.0.0.1:$(free_port) > vault.out 2> vault.log & pids+=($!)
for i in $(seq 100); do [ -s vault/run/endpoints.json ] && break; sleep 0.1; done
[ -s vault/run/endpoints.json ] || fail "vault did not start: $(cat vault.log)"
api=$(jq_ 'd["api"]' < vault/run/endpoints.json)
export LIFELINE_TOKEN=$token LIFELINE_VAULT_DIR=$work/vault
"$bin" policy set fast --interval 2s --streams 1 --compression lz4 --vault-dir vault > /dev/null
"$bin" agent register --vault "$api" --ca vault/pki/ca.crt --key "$key" --name site1 --dir agent 2> agent-register.log
"$bin" agent run --dir agent > agent.out 2> agent.log & agent_pid=$!; pids+=($agent_pid)
for m in web1 db1; do
  truncate -s 16M $m.img
  head -c 4M /dev/urandom | dd of=$m.img conv=notrunc status=none
  "$bin" machine protect $m --disk "$work/$m.img" --agent site1 --policy fast --vault-dir vault > /dev/null
done
mstate() { "$bin" machine status $1 --vault-dir vault --json | jq_ 'd["state"]+"/"+d["direction"]'; }
for m in web1 db1; do
  for _ in $(seq 300); do [ "$(mstate $m)" = protected/forward ] && break; sleep 0.2; done
  [ "$(mstate $m)" = protected/forward ] || fail "$m is $(mstate $m), not protected: $(tail -3 agent.log)"
done
# run_plan VERB [OPTIONS]: `VERB start --plan two-tier`, timed (seconds into secs_VERB); the job must end done.
run_plan() {
  local verb=$1; shift
  local t0; t0=$(date +%s%N)
  "$bin" "$verb" start --plan two-tier "$@" --vault-dir vault --json > "$verb.json"
  local ms=$((($(date +%s%N) - t0) / 1000000))
  printf -v "secs_$verb" '%d.%03d' $((ms / 1000)) $((ms % 1000))
  [ "$(jq_ 'd["state"]' < "$verb.json")" = done ] || fail "plan $verb job: $(cat "$verb.json")"
}

say "2. How each machine comes back: launcher, size, a NIC on the source network 'app'"
# The command launcher records the address each launched copy was given.
python3 -c "import json; print(json.dumps({'command': ['/bin/sh', '-c',
  'echo \"\$LIFELINE_OPERATION \$LIFELINE_MACHINE \$LIFELINE_NIC_0_IP/\$LIFELINE_NIC_0_PREFIX \$LIFELINE_NIC_0_NETWORK\" >> $work/nics.txt; exec sleep 300']}))" > launcher.json
declare -A src_ip=([web1]=10.1.0.10 [db1]=10.1.0.20)
for m in web1 db1; do
  "$bin" machine set $m --launcher command --launcher-config @launcher.json --cpus 2 --memory-mib 256 \
    --vault-dir vault > /dev/null
  "$bin" machine nic set $m --index 0 --network app --ip ${src_ip[$m]} --mac 52:54:00:00:00:0${#m} \
    --vault-dir vault > /dev/null
done
cfg=$("$bin" machine config web1 --vault-dir vault --json)
[ "$(jq_ 'd["launcher"], d["cpus"], d["memory_mib"], d["nics"][0]["ip"]' <<< "$cfg" | tr '\n' ' ')" = "command 2 256 10.1.0.10 " ] \
  || fail "machine config of web1: $cfg"
"$bin" machine set web1 --launcher vmware --vault-dir vault > bad.out 2>&1 && fail "an unknown launcher was accepted"
grep -q "vmware" bad.out || fail "no clear error for an unknown launcher: $(cat bad.out)"
"$bin" machine nic set web1 --index 1 --network app --ip 10.1.0.300 --vault-dir vault > bad.out 2>&1 \
  && fail "a NIC with a bad address was accepted"
"$bin" netmap add bad --recovery dr=10.9.0.1/24 --drill drill=10.8.0.0/24 --vault-dir vault > bad.out 2>&1 \
  && fail "a subnet with host bits was accepted"
grep -q "did you mean 10.9.0.0/24" bad.out || fail "no clear error for a bad subnet: $(cat bad.out)"
"$bin" netmap add bad --recovery 10.9.0.0/24 --drill drill=10.8.0.0/24 --vault-dir vault > bad.out 2>&1 \
  && fail "--recovery without a network name was accepted"

say "3. A plan: web1 after db1, a script after each group"
cat > record.sh <<'SH'
#!/bin/sh
echo "$LIFELINE_OPERATION $LIFELINE_GROUP $LIFELINE_PLAN" >> "$RECORD"
SH
chmod +x record.sh
cat > plan.yaml <<YAML
name: two-tier
groups:
  - name: data
    machines: [db1]
    after:
      - name: record-data
        script: {path: $work/record.sh, env: {RECORD: $work/record.txt}}
  - name: front
    machines: [web1]
    after:
      - name: record-front
        script: {path: $work/record.sh, env: {RECORD: $work/record.txt}}
YAML
"$bin" plan import plan.yaml --catalog vault/catalog.db >&2
"$bin" drill start --vault-dir vault > /dev/null 2>&1 && fail "drill start without a machine or --plan was accepted"
"$bin" drill start web1 --plan two-tier --vault-dir vault > /dev/null 2>&1 && fail "drill start with both a machine and --plan was accepted"
"$bin" drill start --plan two-tier --launcher-command true --vault-dir vault > /dev/null 2>&1 \
  && fail "drill start --plan with --launcher-command was accepted"

say "4. Network mapping: refused without it, then the drill and recovery networks of 'app'"
"$bin" drill start --plan two-tier --vault-dir vault > refused.out 2>&1 && fail "a drill with an unmapped network was accepted"
grep -q "source network app has no mapping" refused.out || fail "no clear refusal for an unmapped network: $(cat refused.out)"
"$bin" job list --catalog vault/catalog.db --json | jq_ 'len(d["jobs"])' | grep -qx 0 || fail "the refused drill left a job"
"$bin" netmap add app --recovery dr-app=10.1.0.0/24 --recovery-gateway 10.1.0.1 \
  --drill drill-app=192.168.50.0/24 --drill-gateway 192.168.50.1 --drill-reserved 192.168.50.2 \
  --vault-dir vault > /dev/null
"$bin" netmap static set db1 --nic 0 --drill --ip 192.168.50.20 --vault-dir vault > /dev/null
"$bin" netmap static set db1 --nic 0 --drill --ip 10.1.0.99 --vault-dir vault > bad.out 2>&1 \
  && fail "a static drill address outside the drill subnet was accepted"
preview() { "$bin" netmap preview $1 ${2:-} --vault-dir vault --json | jq_ 'd["nics"][0]["ip"]+" "+d["nics"][0]["reason"]'; }
[ "$(preview web1 --drill)" = "192.168.50.3 next free" ] || fail "web1 drill preview: $(preview web1 --drill)"
[ "$(preview db1 --drill)" = "192.168.50.20 static rule" ] || fail "db1 drill preview: $(preview db1 --drill)"
[ "$(preview web1)" = "10.1.0.10 kept" ] || fail "web1 failover preview: $(preview web1)"
"$bin" netmap list --vault-dir vault | grep -q "drill-app 192.168.50.0/24 gw 192.168.50.1 reserved 192.168.50.2" \
  || fail "netmap list: $("$bin" netmap list --vault-dir vault)"

say "5. Drill the plan, then clean up each machine"
run_plan drill
for m in db1 web1; do
  ds=$("$bin" drill status $m --vault-dir vault --json | jq_ 'd["drill_state"]')
  [ "$ds" != none ] || fail "$m has no drill after the plan drill"
  url=$("$bin" drill status $m --vault-dir vault --json | jq_ 'd["exports"][0]["nbd_url"]')
  qemu-img convert -f raw -O raw "$url" drill-$m.img
  cmp -s drill-$m.img $m.img || fail "the drill export of $m does not read as its source"
  "$bin" drill cleanup $m --vault-dir vault > /dev/null
done
[ "$(cat record.txt)" = "drill data two-tier
drill front two-tier" ] || fail "drill scripts recorded: $(cat record.txt)"
[ "$(cat nics.txt)" = "drill db1 192.168.50.20/24 drill-app
drill web1 192.168.50.3/24 drill-app" ] || fail "drill copies got addresses: $(cat nics.txt)"

say "6. The primary site is lost: fail the plan over, commit and re-protect each machine"
kill $agent_pid; wait $agent_pid 2>/dev/null || true
run_plan failover --latest
[ "$(tail -2 nics.txt)" = "failover db1 10.1.0.20/24 dr-app
failover web1 10.1.0.10/24 dr-app" ] || fail "failed-over copies got addresses: $(cat nics.txt)"
for m in db1 web1; do
  [ "$(mstate $m)" = failed-over/forward ] || fail "$m is $(mstate $m) after the plan failover"
  "$bin" failover commit $m --vault-dir vault > /dev/null
  url=$("$bin" failover status $m --vault-dir vault --json | jq_ 'd["failover"]["disks"][0]["nbd_url"]')
  qemu-img convert -f raw -O raw "$url" fo-$m.img
  cmp -s fo-$m.img $m.img || fail "the failed-over $m does not read as its source"
  # The recovered machine writes; the primary is back: re-protect to its original disk.
  qemu-io -f raw -c "write -P 0x6$((RANDOM % 10)) 8M 1M" "$url" > /dev/null
  qemu-img convert -f raw -O raw "$url" recovered-$m.img
  "$bin" machine reprotect $m --vault-dir vault > /dev/null
  [ "$(mstate $m)" = protected/reverse ] || fail "$m is $(mstate $m) after re-protect"
done

say "7. Fail the plan back: both machines home, protected forward again"
run_plan failback
for m in db1 web1; do
  [ "$(mstate $m)" = protected/forward ] || fail "$m is $(mstate $m) after the plan failback"
  cmp -s recovered-$m.img $m.img || fail "after failback the primary disk of $m lacks the recovery site's writes"
done
[ "$(tail -2 record.txt)" = "failback data two-tier
failback front two-tier" ] || fail "failback scripts recorded: $(cat record.txt)"
grep -c '^failover ' record.txt | grep -qx 2 || fail "failover scripts recorded: $(cat record.txt)"

printf "\nplan story: drill %s s, failover %s s, failback %s s (2 machines, 2 groups)\n" \
  "$secs_drill" "$secs_failover" "$secs_failback" >&2
echo "plan_story PASSED" >&2
