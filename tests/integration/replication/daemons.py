"""Helpers for the replication tests with real processes: a vault and an agent on loopback
(`lifeline vault run`, `lifeline agent run`), driven by the CLI, and the checks they share."""
import json, os, random, socket, subprocess, sys, time, traceback


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_disk(path, mib, seed):
    """A sparse image: every other 64 KiB block holds random data."""
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        f.truncate(mib << 20)
        for block in range(0, mib * 16, 2):
            f.seek(block * 65536)
            f.write(rnd.randbytes(65536))


def change_blocks(path, count, seed):
    rnd = random.Random(seed)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        for _ in range(count):
            f.seek(rnd.randrange(size // 65536) * 65536)
            f.write(rnd.randbytes(65536))


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


class Site:
    """A vault in VAULT_DIR and one registered agent ("agent1") in WORK/agent."""

    def __init__(self, lifeline, work, vault_dir=None):
        self.lifeline = lifeline
        self.work = work
        self.vault_dir = vault_dir or os.path.join(work, "vault")
        self.agent_dir = os.path.join(work, "agent")
        self.repl_port, self.api_port = free_port(), free_port()
        self.procs = []
        self.init = json.loads(self.run("vault", "init", "--dir", self.vault_dir, "--json").stdout)
        self.env = dict(os.environ, LIFELINE_TOKEN=self.init["admin_token"])
        self.vault = self.start_vault()
        self.run("agent", "register", "--vault", f"https://127.0.0.1:{self.api_port}", "--ca", self.init["ca"],
                 "--key", self.init["registration_key"], "--name", "agent1", "--dir", self.agent_dir)
        self.agent = self.start_agent()

    def run(self, *args, env=None, check=True):
        p = subprocess.run([self.lifeline, *args], capture_output=True, text=True, env=env, timeout=300)
        if check and p.returncode != 0:
            raise AssertionError(f"lifeline {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
        return p

    def cli(self, *args, check=True):
        """A client command against this vault, with the admin token."""
        return self.run(*args, "--vault-dir", self.vault_dir, env=self.env, check=check)

    def log(self, name):
        path = os.path.join(self.work, name)
        return open(path).read() if os.path.exists(path) else ""

    def start_vault(self, *extra):
        log = open(os.path.join(self.work, "vault.log"), "a")
        p = subprocess.Popen([self.lifeline, "vault", "run", "--dir", self.vault_dir, "--listen",
                              f"127.0.0.1:{self.repl_port}", "--api", f"127.0.0.1:{self.api_port}", *extra],
                             stdout=log, stderr=log)
        self.procs.append(p)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.api_port), 0.2).close()
                self.vault = p
                return p
            except OSError:
                time.sleep(0.05)
        raise AssertionError("vault did not start: " + self.log("vault.log")[-2000:])

    def start_agent(self, *extra):
        log = open(os.path.join(self.work, "agent.log"), "a")
        p = subprocess.Popen([self.lifeline, "agent", "run", "--dir", self.agent_dir, *extra], stdout=log, stderr=log)
        self.procs.append(p)
        self.agent = p
        return p

    def status(self, machine):
        return json.loads(self.cli("machine", "status", machine, "--json").stdout)

    def disk_status(self, machine):
        return self.status(machine)["disks"][0]

    def points(self, machine):
        return json.loads(self.cli("point", "list", machine, "--json").stdout)

    def replica_equals(self, disk_id, source):
        out = os.path.join(self.work, disk_id + ".restored")
        self.run("store", "materialize", os.path.join(self.vault_dir, "store"), "--disk", disk_id, "--latest",
                 "-o", out)
        try:
            with open(out, "rb") as a, open(source, "rb") as b:
                return a.read() == b.read()
        finally:
            os.unlink(out)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


class Results:
    """Runs test functions, prints PASS/FAIL for each and a summary; exit code 1 on a failure."""

    def __init__(self):
        self.results = []

    def test(self, fn):
        try:
            fn()
            self.results.append((fn.__name__, None))
            print(f"PASS {fn.__name__}", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure
            self.results.append((fn.__name__, e))
            print(f"FAIL {fn.__name__}: {e}", flush=True)
            traceback.print_exc()

    def failed(self):
        return [n for n, e in self.results if e]

    def finish(self, site):
        if self.failed() and site:
            for name in ("vault.log", "agent.log"):
                print(f"--- last lines of {name}:\n" + site.log(name)[-3000:])
        print(f"{len(self.results) - len(self.failed())} passed, {len(self.failed())} failed")
        sys.exit(1 if self.failed() else 0)
