"""Shared set-up for the benchmarks: a throwaway PostgreSQL, the demo data and gunicorn.

Everything runs on 127.0.0.1 and is started and stopped by the script that imports this
module. gunicorn runs with the production settings (debug off, HTTPS behind a proxy,
persistent connections, database cache and sessions) and config/gunicorn.conf.py; the
clients send ``X-Forwarded-Proto: https`` as the TLS-terminating proxy would.
"""

import contextlib
import datetime
import http.client
import os
import platform
import re
import runpy
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
EVENT_SLUG = "demo-dag-van-de-buurt"  # load_demo's upcoming copy of Dag van de Buurt
HOST = "127.0.0.1"
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def log(message):
    # In UTC, as the docs give times: a script that sets up Django gets its TIME_ZONE
    # (Europe/Amsterdam) as the process's local time.
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {message}", flush=True)


# ------------------------------------------------------------------------- PostgreSQL


class Postgres:
    """A PostgreSQL cluster in a temporary directory (as user postgres when run as root)."""

    def __init__(self, *, fsync=True):
        self.bin = Path(
            sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))[-1]
        )
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.fsync = fsync
        self.url = f"postgres://bench:bench@{HOST}:{self.port}/bench"

    def _run(self, *args, **kwargs):
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, cwd="/", **kwargs)

    def start(self):
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        password_file = self.dir / "pw"
        password_file.write_text("bench\n")
        if os.geteuid() == 0:
            shutil.chown(password_file, "postgres")
        self._run(
            self.bin / "initdb",
            "-D",
            self.data,
            "-U",
            "bench",
            f"--pwfile={password_file}",
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            stdout=subprocess.DEVNULL,
        )
        self.pg_ctl("start")
        env = {**os.environ, "PGPASSWORD": "bench"}
        subprocess.run(
            [self.bin / "createdb", "-h", HOST, "-p", str(self.port), "-U", "bench", "bench"],
            check=True,
            env=env,
        )
        return self

    def pg_ctl(self, action):
        options = f"-c listen_addresses={HOST} -p {self.port} -k {self.dir} -c max_connections=200"
        if not self.fsync:
            options += " -c fsync=off -c synchronous_commit=off"
        args = [self.bin / "pg_ctl", "-D", self.data, "-w", "-t", "60", "-m", "fast"]
        if action in {"start", "restart"}:
            args += ["-l", self.dir / "log", "-o", options]
        self._run(*args, action, stdout=subprocess.DEVNULL)

    def version(self):
        out = subprocess.run([self.bin / "postgres", "--version"], capture_output=True, text=True)
        return out.stdout.strip()

    def stop(self):
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def cpu_seconds(self):
        """CPU time used so far by the server and its processes (backends that are still
        connected, background workers)."""
        root = int((self.data / "postmaster.pid").read_text().split()[0])
        times = _cpu_times()
        ours = _with_descendants({root}, times)
        return sum(times[pid][1] for pid in ours if pid in times) / os.sysconf("SC_CLK_TCK")

    def query(self, sql, *params):
        import psycopg

        with psycopg.connect(self.url.replace("postgres://", "postgresql://")) as conn:
            return conn.execute(sql, params).fetchall()


# ------------------------------------------------------------------------- the app


def production_env(database_url, workdir, **extra):
    """The environment of a production app server, plus what a benchmark needs."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GUNICORN_")) and key != "DATABASE_URL"
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": HOST,
            "DJANGO_SITE_URL": f"https://{HOST}",
            "DATABASE_URL": database_url,
            "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
            "DJANGO_STATIC_ROOT": str(Path(workdir) / "static"),
            "DJANGO_MEDIA_ROOT": str(Path(workdir) / "media"),
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "DJANGO_EMAIL_FILE_PATH": str(Path(workdir) / "mail"),
            "DJANGO_BENCHMARK_VIEWS": "1",
            # Workers are not replaced during a run, so that memory shows real growth.
            "GUNICORN_MAX_REQUESTS": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def manage(env, *args):
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def prepare(env):
    """What a release does once: migrate, translations, static files; then
    the seed programmes with the upcoming Dag van de Buurt copy (load_demo)."""
    manage(env, "migrate", "-v0")
    manage(env, "compilemessages", "--ignore=.venv", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    manage(env, "load_demo", "-v0")


class Background:
    """A server process of the benchmark, in its own process group, logging to a file."""

    process = None

    def spawn(self, args, env):
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process:
            self.log_file.close()

    def log_lines(self):
        return self.log_path.read_text(errors="replace").splitlines()


class Gunicorn(Background):
    def __init__(self, env, workdir, *, workers=None, threads=None):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = Path(workdir) / "gunicorn.log"
        self.env = {**env, "GUNICORN_BIND": f"{HOST}:{self.port}"}
        if workers:
            self.env["GUNICORN_WORKERS"] = str(workers)
        if threads:
            self.env["GUNICORN_THREADS"] = str(threads)
        self._workers = None

    def start(self):
        self.spawn([GUNICORN, "-c", "config/gunicorn.conf.py", "config.wsgi"], self.env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            with contextlib.suppress(OSError):
                status, _headers, _body = request("GET", self.url + "/healthz")
                if status == 200 and len(self.worker_pids()) >= self.workers():
                    return self
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz within 30 s")

    def workers(self):
        """The number of workers config/gunicorn.conf.py starts with this environment."""
        if self._workers is None:
            with mock.patch.dict(os.environ, self.env, clear=True):
                self._workers = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))["workers"]
        return self._workers

    def worker_pids(self):
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def worker_cpu(self):
        """{pid: CPU seconds used so far} per worker."""
        return {pid: process_cpu_seconds(pid) for pid in self.worker_pids()}

    def worker_memory(self):
        """(pid, RSS MiB, PSS MiB) per worker. PSS shares the preloaded code fairly."""
        rows = []
        for pid in self.worker_pids():
            status = Path(f"/proc/{pid}/status").read_text()
            rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            pss = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1)) / 1024
            rows.append((pid, rss, pss))
        return rows


class MailWorker(Background):
    """``manage.py send_queued_email --loop``: the outbox worker of DJANGO_EMAIL_DELIVERY=queue.

    Runs at idle CPU priority (``chrt --idle``), and while e-mails are being queued it
    works only `busy_share` of the time (default: the setting's, 0.2), leaving the rest
    to the app server and PostgreSQL on this one machine.
    """

    def __init__(self, env, workdir, *, busy_share=None):
        self.env = env
        self.log_path = Path(workdir) / "mail-worker.log"
        self.busy_share = busy_share

    def start(self):
        command = ["chrt", "--idle", "0", PYTHON, "manage.py", "send_queued_email", "--loop"]
        if self.busy_share is not None:
            command.append(f"--busy-share={self.busy_share}")
        self.spawn([*command, "--interval", "0.5"], self.env)
        return self

    def cpu_seconds(self):
        """CPU time the worker has used so far (its queries' is PostgreSQL's)."""
        if not self.process or self.process.poll() is not None:
            return 0.0
        return process_cpu_seconds(self.process.pid)

    def wait_until_sent(self, postgres, *, timeout=300):
        """Seconds until the outbox was empty, or None after `timeout`."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            [(pending,)] = postgres.query(
                "SELECT count(*) FROM registrations_queuedemail WHERE sent_at IS NULL"
            )
            if not pending:
                return time.monotonic() - start
            time.sleep(0.2)
        return None


def print_worker_memory(server, label):
    rows = server.worker_memory()
    for pid, rss, pss in rows:
        log(f"memory after {label}: worker {pid}: RSS {rss:.1f} MiB, PSS {pss:.1f} MiB")
    if rows:
        log(
            f"memory after {label}: mean RSS {sum(r[1] for r in rows) / len(rows):.1f} MiB, "
            f"mean PSS {sum(r[2] for r in rows) / len(rows):.1f} MiB "
            f"over {len(rows)} workers"
        )
    return rows


# ------------------------------------------------------------------------- HTTP


def request(method, url, *, headers=None, body=None, timeout=30):
    """One request on a new connection: (status, headers, body bytes)."""
    match = re.match(r"http://([^/:]+):(\d+)(/.*)", url)
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={**PROXY_HEADERS, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def process_cpu_seconds(pid):
    """CPU time (user + system) process `pid` has used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _with_descendants(roots, times):
    """`roots` and every process below them in `times` (as _cpu_times gives it)."""
    ours, found = set(roots), set(roots)
    while found:
        found = {pid for pid, (parent, _ticks) in times.items() if parent in found} - ours
        ours |= found
    return ours


def _cpu_times():
    """{pid: (parent pid, CPU ticks used so far)} for every process."""
    times = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return times


def _steal_ticks():
    """CPU time the hypervisor gave to other machines while ours wanted it (/proc/stat)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("cpu "):
                return int(line.split()[8])
    return 0


def cpu_probe():
    """Milliseconds of CPU a fixed pure-Python loop takes now (best of three).

    The host can slow this virtual machine down without reporting steal (busy sibling
    hyperthreads, shared caches); the probe shows how fast the machine was around a run.
    """
    best = None
    for _ in range(3):
        start = time.process_time()
        total = 0
        for i in range(1_000_000):
            total += i * i
        took = (time.process_time() - start) * 1000
        best = took if best is None else min(best, took)
    return best


def sync_probe(directory, writes=100, budget=1.0):
    """Median microseconds to write 8 KB and flush it to disk (fdatasync), as PostgreSQL
    does for every commit, in `directory` (on the database's disk).

    Each registration commits while it holds its event's lock, so a slower disk slows
    the rush even when the CPU probe does not show it. At most `budget` seconds.
    """
    block = os.urandom(8192)
    took = []
    descriptor, path = tempfile.mkstemp(prefix="sync-probe-", dir=directory)
    try:
        deadline = time.monotonic() + budget
        for _ in range(writes):
            start = time.perf_counter()
            os.pwrite(descriptor, block, 0)
            os.fdatasync(descriptor)
            took.append((time.perf_counter() - start) * 1e6)
            if time.monotonic() > deadline:
                break
    finally:
        os.close(descriptor)
        os.unlink(path)
    return percentile(took, 0.5)


class OtherLoad:
    """CPU used by processes outside the benchmark (other people's jobs on a shared machine),
    CPU time the virtual machine's host kept for others ("steal"), and the CPU and disk
    probes before and after.

    The benchmark is this script, its children (gunicorn, wrk) and the PostgreSQL server.
    """

    def __init__(self, postgres):
        self.postgres = postgres

    def _ours(self, times):
        roots = {os.getpid()}
        with contextlib.suppress(OSError, ValueError):
            roots.add(int((self.postgres.data / "postmaster.pid").read_text().split()[0]))
        return _with_descendants(roots, times)

    def __enter__(self):
        self.sync_before = sync_probe(self.postgres.dir)
        self.probe_before = cpu_probe()
        self.start = time.monotonic()
        self.before = _cpu_times()
        self.steal_before = _steal_ticks()
        return self

    def __exit__(self, *exc):
        after = _cpu_times()
        ours = self._ours(after) | self._ours(self.before)
        ticks = sum(
            used - self.before.get(pid, (0, 0))[1]
            for pid, (_parent, used) in after.items()
            if pid not in ours
        )
        self.seconds = time.monotonic() - self.start
        self.cpu = ticks / os.sysconf("SC_CLK_TCK")
        self.share = self.cpu / (self.seconds * (os.cpu_count() or 1))
        self.steal = (_steal_ticks() - self.steal_before) / os.sysconf("SC_CLK_TCK")
        self.probe_after = cpu_probe()
        self.sync_after = sync_probe(self.postgres.dir)
        return False

    def summary(self):
        return (
            f"other processes on the machine used {self.cpu:.1f} CPU-s during these "
            f"{self.seconds:.0f} s ({self.share:.0%} of all cores); the host kept "
            f"{self.steal:.1f} CPU-s from this virtual machine (steal); CPU probe "
            f"{self.probe_before:.0f} ms before, {self.probe_after:.0f} ms after (lower is "
            "faster); "
            f"disk sync probe (8 KB + fdatasync, median) {self.sync_before:.0f} µs before, "
            f"{self.sync_after:.0f} µs after"
        )


class BusyLoops:
    """`count` busy Python loops at normal priority while the block runs: a stand-in for
    other people's jobs on a shared machine, or for a slower hour of the host.

    ``seconds`` (CPU-s the loops used) and ``share`` (of all cores) are set on exit.
    """

    LOOP = "while True:\n    sum(range(10000))"

    def __init__(self, count):
        self.count = count
        self.processes = []
        self.seconds = self.share = 0.0

    def __enter__(self):
        self.start = time.monotonic()
        self.processes = [subprocess.Popen([PYTHON, "-c", self.LOOP]) for _ in range(self.count)]
        return self

    def __exit__(self, *exc):
        self.seconds = 0.0
        for process in self.processes:
            self.seconds += process_cpu_seconds(process.pid)
            process.kill()
            process.wait()
        wall = time.monotonic() - self.start
        self.share = self.seconds / (wall * (os.cpu_count() or 1)) if wall else 0.0
        return False

    def summary(self):
        return (
            f"{self.count} busy loop(s) alongside used {self.seconds:.1f} CPU-s "
            f"({self.share:.0%} of all cores)"
        )


def machine_facts(postgres=None):
    import django
    import gunicorn
    import psycopg

    memory = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    facts = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M %Z"),
        "machine": f"{platform.system()} {platform.release()}, {os.cpu_count()} cores"
        f"{f' ({cpu})' if cpu else ''}, {int(memory) / 1024 / 1024:.1f} GiB RAM",
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "psycopg": psycopg.__version__,
    }
    if postgres:
        facts["postgresql"] = postgres.version()
    for tool in ("wrk", "ab"):
        if shutil.which(tool):
            facts[tool] = shutil.which(tool)
    return facts


def print_facts(facts):
    for key, value in facts.items():
        log(f"{key}: {value}")


@contextlib.contextmanager
def stack(*, workers=None, threads=None, fsync=True, **env_extra):
    """PostgreSQL + prepared database + gunicorn; everything removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    postgres = Postgres(fsync=fsync)
    server = None
    try:
        log("starting PostgreSQL")
        postgres.start()
        env = production_env(postgres.url, workdir, **env_extra)
        log("migrate, compilemessages, collectstatic, load_demo")
        prepare(env)
        server = Gunicorn(env, workdir, workers=workers, threads=threads)
        log("starting gunicorn")
        server.start()
        log(f"gunicorn at {server.url}: {len(server.worker_pids())} workers")
        yield postgres, server, workdir
    finally:
        if server:
            server.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    # Start the stack and keep it up for manual exploration: python -m bench.common
    with stack() as (_postgres, _server, _workdir):
        log(f"DATABASE_URL={_postgres.url}  (Ctrl-C stops everything)")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
