#!/usr/bin/env python3
"""Replication with real processes: `lifeline vault run` and `lifeline agent run` on
loopback, driven by the CLI. Initial + delta byte-equal; a policy change reaching the running
agent; SIGKILL of the agent mid-transfer (nothing acknowledged is sent again) and of the vault
(progress, throughput and ETA shown meanwhile), restart, replica still equal to the source;
health following the policy's RPO thresholds and coming back; authentication failures; the
1..32 stream bounds; a path that silently stops forwarding (black hole) detected by the heartbeats
and survived on the next vault address; `vault run --nice`. Prints 'N passed, M failed' and exits non-zero on any failure."""
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemons import Results, Site, change_blocks, free_port, make_disk, wait_for  # noqa: E402

work = tempfile.mkdtemp(prefix="ll-daemons-")
site = Site(sys.argv[1], work)
cli = site.cli
site.cli("policy", "set", "fast", "--interval", "2s", "--streams", "4", "--compression", "lz4")
site.cli("policy", "set", "slow", "--interval", "2s", "--streams", "4", "--bandwidth", "24M")
MiB = 1 << 20


def newest_seq(machine):
    return max(p["seq"] for p in site.points(machine))


def initial_and_delta_are_byte_equal():
    disk = os.path.join(work, "web.img")
    make_disk(disk, 64, 1)
    cli("machine", "protect", "web", "--disk", disk, "--agent", "agent1", "--policy", "fast", "--wait")
    assert site.status("web")["state"] == "protected"
    assert site.replica_equals("web-disk0", disk), "replica differs after initial replication"
    before = newest_seq("web")
    change_blocks(disk, 10, 2)  # about 1% of the 1024 blocks
    wait_for("a point covering the change", lambda: newest_seq("web") > before)
    assert site.replica_equals("web-disk0", disk), "replica differs after the delta"
    s = site.disk_status("web")
    assert s["health"] == "Healthy", s
    assert s["rpo_seconds"] is not None and s["rpo_seconds"] < 30, s


def policy_change_reaches_the_running_agent():
    # web is protected with "fast" (4 streams): 2 streams must take effect without an agent
    # restart, and replication must go on with them.
    wait_for("4 streams at the vault", lambda: site.disk_status("web").get("streams") == 4)
    cli("policy", "set", "fast", "--streams", "2")
    wait_for("2 streams at the vault", lambda: site.disk_status("web").get("streams") == 2, timeout=60)
    disk = os.path.join(work, "web.img")
    before = newest_seq("web")
    change_blocks(disk, 10, 5)
    wait_for("a point covering the change", lambda: newest_seq("web") > before)
    assert site.replica_equals("web-disk0", disk), "replica differs after the policy change"
    assert "policy changed; restarting it" in site.log("agent.log")


def agent_sigkill_mid_transfer_resends_nothing_acknowledged():
    disk = os.path.join(work, "db.img")
    make_disk(disk, 160, 3)  # 80 MiB of data, 80 MiB of holes
    cli("machine", "protect", "db", "--disk", disk, "--agent", "agent1", "--policy", "slow")
    wait_for("60% read", lambda: site.disk_status("db").get("agent", {}).get("bytes_done", 0) > 96 * MiB)
    site.agent.send_signal(signal.SIGKILL)
    site.agent.wait()
    received = site.disk_status("db")["bytes_received"]  # by the vault before the kill
    assert received >= 24 * MiB, received
    time.sleep(0.5)
    site.start_agent()
    wait_for("db protected", lambda: site.status("db")["state"] == "protected", timeout=180)
    assert site.replica_equals("db-disk0", disk), "replica differs after an agent SIGKILL and restart"
    # The restarted agent resumes after the acknowledged ranges (or, when the kill came before
    # its state was saved, compares block hashes with the replica): it sends the data the
    # vault had not received, plus at most what was in flight (not acknowledged) at the kill.
    sync = wait_for("the restarted agent's first phase", lambda: site.disk_status("db")["agent"].get("sync"))
    assert sync["phase"] in ("initial-replication", "resync"), sync
    in_flight = 8 * MiB
    assert sync["bytes_sent"] <= 80 * MiB - received + in_flight, \
        f"resent acknowledged data: {sync}, {received} bytes received before the kill"
    print(f"  {received / MiB:.1f} MiB received before the kill; the restarted agent ({sync['phase']}) "
          f"sent {sync['bytes_sent'] / MiB:.1f} MiB of the 80 MiB of data", flush=True)


def vault_sigkill_mid_transfer_loses_nothing():
    disk = os.path.join(work, "app.img")
    make_disk(disk, 160, 4)
    cli("machine", "protect", "app", "--disk", disk, "--agent", "agent1", "--policy", "slow")
    wait_for("the transfer to start", lambda: site.disk_status("app").get("durable_seq", 0) > 20)
    # machine status shows the first copy's progress: percent, throughput and ETA.
    a = wait_for("progress", lambda: (lambda a: a if a.get("phase") == "initial-replication" and
                                      0 < a.get("percent", 0) < 100 else None)(site.disk_status("app").get("agent", {})))
    assert a["bytes_per_s"] > 0 and a["eta_s"] > 0 and a["bytes_total"] == 160 * MiB, a
    text = site.cli("machine", "status", "app").stdout
    assert "%" in text and "ETA" in text, text
    site.vault.send_signal(signal.SIGKILL)
    site.vault.wait()
    time.sleep(0.5)
    site.start_vault()
    wait_for("app protected", lambda: site.status("app")["state"] == "protected", timeout=180)
    assert site.replica_equals("app-disk0", disk), "replica differs after a vault SIGKILL and restart"


def health_follows_the_policy_thresholds():
    # An idle disk stays Healthy (each finished cycle confirms the replica is current); a
    # stalled agent makes it Warning, then Critical, by the policy's thresholds; back to
    # Healthy once the agent goes on.
    cli("policy", "set", "tight", "--interval", "1s", "--rpo-warning", "6s", "--rpo-critical", "12s")
    disk = os.path.join(work, "mon.img")
    make_disk(disk, 4, 6)
    cli("machine", "protect", "mon", "--disk", disk, "--agent", "agent1", "--policy", "tight", "--wait")
    time.sleep(8)  # longer than the warning threshold, with nothing written
    s = site.disk_status("mon")
    assert s["health"] == "Healthy" and s["rpo_seconds"] < 6, s
    site.agent.send_signal(signal.SIGSTOP)
    try:
        w = wait_for("Warning", lambda: (lambda s: s if s["health"] == "Warning" else None)(site.disk_status("mon")),
                     timeout=30)
        assert any("warning threshold" in r for r in w["health_reasons"]), w
        c = wait_for("Critical", lambda: (lambda s: s if s["health"] == "Critical" else None)(site.disk_status("mon")),
                     timeout=30)
        assert any("critical threshold" in r for r in c["health_reasons"]), c
        assert site.status("mon")["health"] == "Critical"
        assert "Critical" in site.cli("machine", "list").stdout
    finally:
        site.agent.send_signal(signal.SIGCONT)
    wait_for("Healthy again", lambda: site.disk_status("mon")["health"] == "Healthy", timeout=60)


def unplanned_failover_to_the_latest_app_consistent_point():
    # With freeze/thaw hooks every capture cycle ends with an app-consistent point.
    cli("policy", "set", "app", "--interval", "1s", "--pre-hook", "true", "--post-hook", "true")
    disk = os.path.join(work, "acct.img")
    make_disk(disk, 4, 8)
    cli("machine", "protect", "acct", "--disk", disk, "--agent", "agent1", "--policy", "app", "--wait")
    change_blocks(disk, 4, 9)
    app = wait_for("an app-consistent point", lambda: [p for p in site.points("acct") if p["kind"] == "app-consistent"])
    # A machine without app-consistent points: refused, and it stays protected.
    p = cli("failover", "start", "web", "--latest-app", "--launcher-command", "exec sleep 60", check=False)
    assert p.returncode != 0 and "no latest-app recovery point" in p.stderr, (p.returncode, p.stderr)
    assert site.status("web")["state"] == "protected"
    out = json.loads(cli("failover", "start", "acct", "--latest-app", "--launcher-command", "exec sleep 60",
                         "--json").stdout)
    chosen = out["failover"]["disks"][0]
    by_id = {p["id"]: p for p in site.points("acct")}
    assert chosen["point"].startswith("latest-app: point"), chosen
    assert by_id[chosen["point_id"]]["kind"] == "app-consistent", (chosen, by_id[chosen["point_id"]])
    newest_app = max((p for p in by_id.values() if p["kind"] == "app-consistent"), key=lambda p: p["seq"])
    assert chosen["seq"] == newest_app["seq"] and chosen["seq"] >= app[-1]["seq"], (chosen, newest_app)
    assert site.status("acct")["state"] == "failed-over"
    cli("failover", "cancel", "acct")
    assert site.status("acct")["state"] == "protected"


def agent_bandwidth_limit_is_shared_by_its_disks():
    # `agent run --bandwidth 8M`: two disks with 32 MiB of data each, protected together,
    # take at least 64 MiB / 8 MiB/s = 8 s (6 s allowed for the burst and the clock), whatever
    # their policy; unlimited, the same copy takes about 2 s here.
    site.agent.terminate()
    site.agent.wait()
    site.start_agent("--bandwidth", "8M")
    wait_for("the limit in the agent's log", lambda: "at most 8.00 MiB/s" in site.log("agent.log"), timeout=10)
    disks = {}
    for name, seed in (("bw1", 11), ("bw2", 12)):
        disks[name] = os.path.join(work, name + ".img")
        make_disk(disks[name], 64, seed)
    t0 = time.time()
    for name, path in disks.items():
        cli("machine", "protect", name, "--disk", path, "--agent", "agent1", "--policy", "fast")
    for name in disks:
        wait_for(name + " protected", lambda: site.status(name)["state"] == "protected", timeout=120)
    elapsed = time.time() - t0
    assert elapsed >= 6.0, f"64 MiB went through an 8 MiB/s agent limit in {elapsed:.1f} s"
    for name, path in disks.items():
        assert site.replica_equals(name + "-disk0", path), name
    print(f"  64 MiB of data through an 8 MiB/s agent limit: {elapsed:.1f} s", flush=True)
    site.agent.terminate()
    site.agent.wait()
    site.start_agent()


def a_disk_that_grows_is_followed_and_one_that_shrinks_is_refused():
    disk = os.path.join(work, "grow.img")
    make_disk(disk, 8, 13)
    cli("machine", "protect", "grow", "--disk", disk, "--agent", "agent1", "--policy", "fast", "--wait")
    # The operator extends the disk to 16 MiB and the machine writes 1 MiB in the new range.
    with open(disk, "r+b") as f:
        f.truncate(16 * MiB)
        f.seek(12 * MiB)
        f.write(os.urandom(MiB))
    wait_for("the replica at 16 MiB", lambda: site.disk_status("grow")["size_bytes"] == 16 * MiB, timeout=60)
    # The agent's report keeps its latest resync: later cycles do not hide it.
    last = wait_for("a resync after the growth",
                    lambda: site.disk_status("grow").get("agent", {}).get("resync"), timeout=60)
    assert last["phase"] == "resync", last
    assert site.replica_equals("grow-disk0", disk), "replica differs after the disk grew"
    # Only the blocks that differ went: the 1 MiB written, not the 8 MiB the replica had.
    assert last["bytes_sent"] <= 2 * MiB, last
    print(f"  grew 8 -> 16 MiB: resync sent {last['bytes_sent'] / MiB:.2f} MiB", flush=True)
    # Shrinking is refused with a clear reason, and the replica keeps its size and data.
    with open(disk, "r+b") as f:
        f.truncate(8 * MiB)
    s = wait_for("a shrink refusal", lambda: (lambda s: s if any("shrank" in r for r in s["health_reasons"]) else None)(
        site.disk_status("grow")), timeout=60)
    assert s["health"] != "Healthy" and s["size_bytes"] == 16 * MiB, s


class BlackHoleProxy:
    """A TCP relay to the vault's replication port that can stop forwarding without closing
    anything: bytes are read and dropped in both directions, as on a path that silently
    loses every packet. Only the agent's heartbeats can notice it."""

    def __init__(self, target_port):
        self.port = free_port()
        self.target = ("127.0.0.1", target_port)
        self.dropping = False
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source, target):
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                if not self.dropping:
                    target.sendall(data)
        except OSError:
            pass
        if self.dropping:
            return  # a black hole carries no FIN or RST either: the other side stays open
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.listener.close()


def a_black_holed_path_is_detected_and_survived():
    # A second agent whose first replication address is a relay that will black-hole the
    # path in the middle of the initial copy; its second address is the vault itself.
    proxy = BlackHoleProxy(site.repl_port)
    agent_dir = os.path.join(work, "agent-bh")
    site.run("agent", "register", "--vault", f"https://127.0.0.1:{site.api_port}", "--ca", site.init["ca"],
             "--key", json.loads(cli("vault", "key", "--json").stdout)["registration_key"], "--name", "agent-bh",
             "--dir", agent_dir, "--replication", f"127.0.0.1:{proxy.port}", f"127.0.0.1:{site.repl_port}")
    log_path = os.path.join(work, "agent-bh.log")
    agent = subprocess.Popen([site.lifeline, "agent", "run", "--dir", agent_dir], stdout=open(log_path, "a"),
                             stderr=subprocess.STDOUT)
    site.procs.append(agent)
    try:
        disk = os.path.join(work, "bh.img")
        make_disk(disk, 96, 14)  # 48 MiB of data at the 24 MiB/s of the "slow" policy: about 2 s
        cli("machine", "protect", "bh", "--disk", disk, "--agent", "agent-bh", "--policy", "slow")
        wait_for("the copy to start through the relay",
                 lambda: proxy.connections > 0 and site.disk_status("bh").get("bytes_received", 0) > 4 * MiB)
        proxy.dropping = True
        cut = time.time()
        received = site.disk_status("bh")["bytes_received"]
        # The copy goes on over the second address: the vault receives new bytes again.
        wait_for("bytes after the cut", lambda: site.disk_status("bh")["bytes_received"] > received + MiB, timeout=30)
        resumed_s = time.time() - cut
        wait_for("bh protected", lambda: site.status("bh")["state"] == "protected", timeout=120)
        assert site.replica_equals("bh-disk0", disk), "replica differs after the black hole"
        log = open(log_path).read()
        assert "heartbeat timeout" in log, log[-2000:]
        m = [int(x) for x in re.findall(r"no data from [^ ]+ for (\d+) ms", log)]
        assert m and min(m) < 3000, f"black hole detected after {m} ms"
        assert resumed_s < 10, f"replication resumed {resumed_s:.1f} s after the black hole"
        print(f"  black hole detected after {min(m)} ms of silence; bytes flowing again {resumed_s:.1f} s after the cut",
              flush=True)
    finally:
        proxy.close()
        agent.terminate()
        agent.wait()


def thread_nice(pid, name):
    """Nice values of the threads of `pid` named `name` (field 19 of /proc/PID/task/TID/stat)."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            if open(f"/proc/{pid}/task/{tid}/comm").read().strip() == name:
                out.append(int(open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()[16]))
        except OSError:
            pass
    return out


def vault_nice_lowers_its_replication_data_path():
    # `vault run --nice 10`: the connections and the journal commit threads run at nice 10
    # (a vault sharing its host with protected machines); out of range is a usage error.
    p = site.run("vault", "run", "--dir", site.vault_dir, "--nice", "21", check=False)
    assert p.returncode == 2, (p.returncode, p.stderr)
    site.vault.terminate()
    site.vault.wait()
    site.start_vault("--nice", "10")
    try:
        disk = os.path.join(work, "web.img")
        before = newest_seq("web")
        change_blocks(disk, 4, 21)
        wait_for("a point after the restart", lambda: newest_seq("web") > before, timeout=60)
        io = wait_for("replication connections", lambda: thread_nice(site.vault.pid, "repl-io"))
        commit = thread_nice(site.vault.pid, "sink-commit")
        assert io and all(n == 10 for n in io), io
        assert commit and all(n == 10 for n in commit), commit
        assert site.replica_equals("web-disk0", disk)
    finally:
        site.vault.terminate()
        site.vault.wait()
        site.start_vault()


def authentication_failures_are_refused():
    p = site.run("agent", "register", "--vault", f"https://127.0.0.1:{site.api_port}", "--ca", site.init["ca"],
                 "--key", "llr_" + "0" * 64, "--name", "intruder", "--dir", os.path.join(work, "intruder"),
                 check=False)
    assert p.returncode == 12, (p.returncode, p.stderr)
    bad = dict(site.env, LIFELINE_TOKEN="llt_" + "1" * 64)
    p = site.run("machine", "list", "--vault-dir", site.vault_dir, env=bad, check=False)
    assert p.returncode == 12 and "token" in p.stderr, (p.returncode, p.stderr)


def stream_bounds_are_enforced():
    for n in ("0", "33"):
        p = cli("policy", "set", "bad", "--streams", n, check=False)
        assert p.returncode == 2 and "1 and 32" in p.stderr, (p.returncode, p.stderr)
    p = cli("policy", "set", "ok32", "--streams", "32", check=False)
    assert p.returncode == 0, p.stderr


results = Results()
try:
    for t in (initial_and_delta_are_byte_equal, policy_change_reaches_the_running_agent,
              agent_sigkill_mid_transfer_resends_nothing_acknowledged, vault_sigkill_mid_transfer_loses_nothing,
              health_follows_the_policy_thresholds, unplanned_failover_to_the_latest_app_consistent_point,
              agent_bandwidth_limit_is_shared_by_its_disks,
              a_disk_that_grows_is_followed_and_one_that_shrinks_is_refused, a_black_holed_path_is_detected_and_survived,
              vault_nice_lowers_its_replication_data_path, authentication_failures_are_refused,
              stream_bounds_are_enforced):
        results.test(t)
finally:
    site.stop()
    failed = results.failed()
    if not failed:
        shutil.rmtree(work, ignore_errors=True)
results.finish(site)
