#!/usr/bin/env python3
"""Replication with real processes: `lifeline vault run` and `lifeline agent run` on
loopback, driven by the CLI. Initial + delta byte-equal; SIGKILL of the agent and of the
vault mid-transfer, restart, replica still equal to the source; authentication failures;
the 1..32 stream bounds. Prints 'N passed, M failed' and exits non-zero on any failure."""
import json, os, random, shutil, signal, socket, subprocess, sys, tempfile, time, traceback

LIFELINE = sys.argv[1]
work = tempfile.mkdtemp(prefix="ll-daemons-")
procs = []
results = []


def run(*args, env=None, check=True):
    p = subprocess.run([LIFELINE, *args], capture_output=True, text=True, env=env, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"lifeline {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


REPL_PORT, API_PORT = free_port(), free_port()
VAULT = os.path.join(work, "vault")
AGENT = os.path.join(work, "agent")


def start_vault():
    log = open(os.path.join(work, "vault.log"), "a")
    p = subprocess.Popen([LIFELINE, "vault", "run", "--dir", VAULT, "--listen", f"127.0.0.1:{REPL_PORT}",
                          "--api", f"127.0.0.1:{API_PORT}"], stdout=log, stderr=log)
    procs.append(p)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", API_PORT), 0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    raise AssertionError("vault did not start: " + open(os.path.join(work, "vault.log")).read()[-2000:])


def start_agent():
    log = open(os.path.join(work, "agent.log"), "a")
    p = subprocess.Popen([LIFELINE, "agent", "run", "--dir", AGENT], stdout=log, stderr=log)
    procs.append(p)
    return p


def make_disk(path, mib, seed):
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        f.truncate(mib << 20)
        for block in range(0, mib * 16, 2):  # every other 64 KiB block holds data
            f.seek(block * 65536)
            f.write(rnd.randbytes(65536))


def change_blocks(path, count, seed):
    rnd = random.Random(seed)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        for _ in range(count):
            f.seek(rnd.randrange(size // 65536) * 65536)
            f.write(rnd.randbytes(65536))


def status(machine):
    return json.loads(run("machine", "status", machine, "--vault-dir", VAULT, "--json", env=ENV).stdout)


def points(machine):
    return json.loads(run("point", "list", machine, "--vault-dir", VAULT, "--json", env=ENV).stdout)


def wait_for(what, fn, timeout=120):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except AssertionError as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last})")


def replica_equals(disk_id, source):
    out = os.path.join(work, disk_id + ".restored")
    run("store", "materialize", os.path.join(VAULT, "store"), "--disk", disk_id, "--latest", "-o", out)
    with open(out, "rb") as a, open(source, "rb") as b:
        return a.read() == b.read()


def test(fn):
    try:
        fn()
        results.append((fn.__name__, None))
        print(f"PASS {fn.__name__}", flush=True)
    except Exception as e:  # noqa: BLE001 - report every failure
        results.append((fn.__name__, e))
        print(f"FAIL {fn.__name__}: {e}", flush=True)
        traceback.print_exc()


# ---- setup: a vault, an agent, a fast policy ----
init = json.loads(run("vault", "init", "--dir", VAULT, "--json").stdout)
ENV = dict(os.environ, LIFELINE_TOKEN=init["admin_token"])
vault = start_vault()
run("agent", "register", "--vault", f"https://127.0.0.1:{API_PORT}", "--ca", init["ca"], "--key",
    init["registration_key"], "--name", "agent1", "--dir", AGENT)
agent = start_agent()
run("policy", "set", "fast", "--interval", "2s", "--streams", "4", "--compression", "lz4", "--vault-dir", VAULT, env=ENV)
run("policy", "set", "slow", "--interval", "2s", "--streams", "4", "--bandwidth", "24M", "--vault-dir", VAULT, env=ENV)


def initial_and_delta_are_byte_equal():
    disk = os.path.join(work, "web.img")
    make_disk(disk, 64, 1)
    run("machine", "protect", "web", "--disk", disk, "--agent", "agent1", "--policy", "fast", "--wait",
        "--vault-dir", VAULT, env=ENV)
    assert status("web")["state"] == "protected"
    assert replica_equals("web-disk0", disk), "replica differs after initial replication"
    before = max(p["seq"] for p in points("web"))
    change_blocks(disk, 10, 2)  # about 1% of the 1024 blocks
    wait_for("a point covering the change", lambda: max(p["seq"] for p in points("web")) > before)
    assert replica_equals("web-disk0", disk), "replica differs after the delta"
    s = status("web")["disks"][0]
    assert s["health"] == "Healthy", s
    assert s["rpo_seconds"] is not None and s["rpo_seconds"] < 30, s


def policy_change_reaches_the_running_agent():
    # web is protected with "fast" (4 streams): 2 streams must take effect without an agent
    # restart, and replication must go on with them.
    wait_for("4 streams at the vault", lambda: status("web")["disks"][0].get("streams") == 4)
    run("policy", "set", "fast", "--streams", "2", "--vault-dir", VAULT, env=ENV)
    wait_for("2 streams at the vault", lambda: status("web")["disks"][0].get("streams") == 2, timeout=60)
    disk = os.path.join(work, "web.img")
    before = max(p["seq"] for p in points("web"))
    change_blocks(disk, 10, 5)
    wait_for("a point covering the change", lambda: max(p["seq"] for p in points("web")) > before)
    assert replica_equals("web-disk0", disk), "replica differs after the policy change"
    with open(os.path.join(work, "agent.log")) as f:
        assert "policy changed; restarting it" in f.read()


def agent_sigkill_mid_transfer_loses_nothing():
    global agent
    disk = os.path.join(work, "db.img")
    make_disk(disk, 160, 3)
    run("machine", "protect", "db", "--disk", disk, "--agent", "agent1", "--policy", "slow", "--vault-dir", VAULT, env=ENV)
    wait_for("the transfer to start", lambda: status("db")["disks"][0].get("agent", {}).get("bytes_done", 0) > (8 << 20))
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    time.sleep(0.5)
    agent = start_agent()
    wait_for("db protected", lambda: status("db")["state"] == "protected", timeout=180)
    assert replica_equals("db-disk0", disk), "replica differs after an agent SIGKILL and restart"


def vault_sigkill_mid_transfer_loses_nothing():
    global vault
    disk = os.path.join(work, "app.img")
    make_disk(disk, 160, 4)
    run("machine", "protect", "app", "--disk", disk, "--agent", "agent1", "--policy", "slow", "--vault-dir", VAULT, env=ENV)
    wait_for("the transfer to start", lambda: status("app")["disks"][0].get("durable_seq", 0) > 20)
    vault.send_signal(signal.SIGKILL)
    vault.wait()
    time.sleep(0.5)
    vault = start_vault()
    wait_for("app protected", lambda: status("app")["state"] == "protected", timeout=180)
    assert replica_equals("app-disk0", disk), "replica differs after a vault SIGKILL and restart"


def authentication_failures_are_refused():
    p = run("agent", "register", "--vault", f"https://127.0.0.1:{API_PORT}", "--ca", init["ca"], "--key",
            "llr_" + "0" * 64, "--name", "intruder", "--dir", os.path.join(work, "intruder"), check=False)
    assert p.returncode == 12, (p.returncode, p.stderr)
    bad = dict(ENV, LIFELINE_TOKEN="llt_" + "1" * 64)
    p = run("machine", "list", "--vault-dir", VAULT, env=bad, check=False)
    assert p.returncode == 12 and "token" in p.stderr, (p.returncode, p.stderr)


def stream_bounds_are_enforced():
    for n in ("0", "33"):
        p = run("policy", "set", "bad", "--streams", n, "--vault-dir", VAULT, env=ENV, check=False)
        assert p.returncode == 2 and "1 and 32" in p.stderr, (p.returncode, p.stderr)
    p = run("policy", "set", "ok32", "--streams", "32", "--vault-dir", VAULT, env=ENV, check=False)
    assert p.returncode == 0, p.stderr


try:
    for t in (initial_and_delta_are_byte_equal, policy_change_reaches_the_running_agent,
              agent_sigkill_mid_transfer_loses_nothing,
              vault_sigkill_mid_transfer_loses_nothing, authentication_failures_are_refused,
              stream_bounds_are_enforced):
        test(t)
finally:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    failed = [n for n, e in results if e]
    if failed:
        for name in ("vault.log", "agent.log"):
            path = os.path.join(work, name)
            if os.path.exists(path):
                print(f"--- last lines of {name}:\n" + open(path).read()[-3000:])
    shutil.rmtree(work, ignore_errors=True)
print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
