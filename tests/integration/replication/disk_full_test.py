#!/usr/bin/env python3
"""The vault's disk fills up during initial replication: the vault (its store and catalog on
a 24 MiB tmpfs) holds the writes it cannot store, shows the disk Critical with the reason, the
agent keeps its data, and replication resumes by itself once there is room again (the tmpfs
grown): the replica then equals the source and the disk is Healthy. Needs root (mount); run
as another user it fails, never skips. Prints 'N passed, M failed'; non-zero on a failure."""
import os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemons import Results, Site, make_disk, wait_for  # noqa: E402

if os.geteuid() != 0:
    print("FAIL disk_full_test: needs root to mount a small tmpfs for the vault (CI runs as root)")
    sys.exit(1)

MiB = 1 << 20
work = tempfile.mkdtemp(prefix="ll-diskfull-")
mount = os.path.join(work, "vaultfs")
os.makedirs(mount)
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mount], check=True)
site = None
results = Results()


def full_disk_holds_then_resumes():
    disk = os.path.join(work, "big.img")
    make_disk(disk, 96, 7)  # 48 MiB of random data: twice what the vault's disk holds
    site.cli("policy", "set", "plain", "--interval", "2s", "--compression", "none")
    site.cli("machine", "protect", "big", "--disk", disk, "--agent", "agent1", "--policy", "plain")
    s = wait_for("Critical: vault disk full",
                 lambda: (lambda s: s if s["health"] == "Critical" else None)(site.disk_status("big")), timeout=120)
    assert any("vault disk full" in r for r in s["health_reasons"]), s
    held_seq = s["durable_seq"]
    # Nothing moves while the disk is full, and nothing is lost: the agent holds the rest.
    state = site.status("big")["state"]
    assert state in ("enabling", "initial-replication"), state
    assert site.vault.poll() is None and site.agent.poll() is None, "a daemon died on a full disk"
    subprocess.run(["mount", "-o", "remount,size=256m", mount], check=True)
    wait_for("big protected", lambda: site.status("big")["state"] == "protected", timeout=180)
    assert site.replica_equals("big-disk0", disk), "replica differs after the disk-full episode"
    s = wait_for("Healthy", lambda: (lambda s: s if s["health"] == "Healthy" else None)(site.disk_status("big")),
                 timeout=60)
    assert s["durable_seq"] > held_seq, (held_seq, s)
    print(f"  held at durable seq {held_seq} while full; resumed to seq {s['durable_seq']}", flush=True)


try:
    site = Site(sys.argv[1], work, vault_dir=os.path.join(mount, "vault"))
    results.test(full_disk_holds_then_resumes)
finally:
    if site:
        site.stop()
    subprocess.run(["umount", mount], check=False)
    if not results.failed():
        shutil.rmtree(work, ignore_errors=True)
results.finish(site)
