"""Live-results load benchmark: websocket subscribers watch one question while ballots arrive.

Starts the services-mode stack on loopback — ``--servers`` daphne processes (the ASGI
server, one port each), one Celery worker, Redis and PostgreSQL (already running) — against
a database of its own, then drives it from separate client processes: K websocket
subscribers on one question (spread round-robin over the daphne ports, which stands in for a
load balancer) and ballots from distinct participants through the JSON API at R per second
for a fixed duration. It reports ballots accepted per second, ballot request latency,
update delivery latency from ballot commit to receipt, updates dropped, whether the final
tally equals the ballots accepted, server memory and where the CPU went. Everything is
bounded in time and count, and the servers and the database are removed at the end (also on
Ctrl-C or an error). See docs/benchmarks.md, section "Live results".

    .venv/bin/python benchmarks/live_load.py --subscribers 1000 --rate 200 --duration 10 --servers 2 --layer redis
    .venv/bin/python benchmarks/live_load.py --matrix --layer pubsub        # K in 1000,5000 x R in 200,1000

Bad arguments end with exit status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import math
import multiprocessing as mp
import os
import queue
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LAYERS = ("redis", "pubsub")
MATRIX = ((1000, 200), (1000, 1000), (5000, 200), (5000, 1000))
OPTION_LABELS = ["Apples", "Bananas", "Cherries", "Dates"]
VERSION_RE = re.compile(r'data-version="(\d+)"')
COUNT_RE = re.compile(r'data-ballot-count="(\d+)"')
HEAD_CHARS = 4096  # the attributes are on the fragment's first element
START_TIMEOUT = 60.0  # seconds for a server process to become ready
REQUEST_TIMEOUT = 30.0  # seconds before a ballot request counts as failed
CONNECT_TIMEOUT = 30.0  # seconds for one websocket handshake
PHASE_SLACK = 60.0  # extra seconds a client phase may take before the run is abandoned
ROLES = ("daphne", "worker", "postgres", "redis", "client")  # where CPU time is counted
ABANDONED, FAILED = -1, 0  # ballot status codes besides HTTP's: never sent (backlog bound), no response
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# Run inside `manage.py shell -c` with the benchmark's environment; the spec comes in PLENUM_BENCH_SPEC.
SETUP_CODE = """
import json, os
from django.contrib.auth import get_user_model
from deliberation.services import MAX_MINT, create_session, mint_participants
spec = json.loads(os.environ["PLENUM_BENCH_SPEC"])
organizer = get_user_model().objects.create_user("bench-organizer")
session = create_session(organizer, title="Live results load benchmark")
tokens = []
while len(tokens) < spec["participants"]:
    batch = min(MAX_MINT, spec["participants"] - len(tokens))
    minted = mint_participants(session, batch, prefix=f"voter {len(tokens) // MAX_MINT + 1}-", weight="1")
    tokens += [participant.api_token for participant in minted]
print(json.dumps({"session": session.pk, "tokens": tokens}))
"""
QUESTION_CODE = """
import json, os
from deliberation.models import Session
from voting.selectors import option_keys
from voting.services import create_question, open_question
spec = json.loads(os.environ["PLENUM_BENCH_SPEC"])
session = Session.objects.get(pk=spec["session"])
question = create_question(session, text=spec["text"], kind="single", rule="plurality", option_labels=spec["labels"])
open_question(question)
print(json.dumps({"question": question.pk, "options": option_keys(question)}))
"""
# When each ballot was written: the server's wall clock just before the ballot's transaction commits.
COMMITS_CODE = """
import json, os
from voting.models import BallotRevision
spec = json.loads(os.environ["PLENUM_BENCH_SPEC"])
stamps = BallotRevision.objects.filter(question_id=spec["question"]).values_list("cast_at", flat=True)
print(json.dumps({"commits": sorted(stamp.timestamp() for stamp in stamps)}))
"""


class BenchError(Exception):
    """The benchmark cannot go on (a server did not start, a client phase timed out...)."""


# --- command line ---------------------------------------------------------------------------------


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print ``message`` as one line and exit with status 2."""
        sys.stderr.write(f"live_load.py: error: {message}\n")
        sys.exit(2)


@dataclass(frozen=True)
class Options:
    """The benchmark's settings, checked."""

    combos: tuple[tuple[int, int], ...]
    duration: float
    servers: int
    layer: str
    markdown: bool
    wait: float
    backlog: float
    debounce: float
    worker_concurrency: int
    http_connections: int
    client_procs: int
    connect_concurrency: int
    database: str
    redis_url: str
    profile_dir: Path | None


def parse_args(argv: list[str]) -> Options:
    """Parse and check the command line; bad arguments exit with status 2 and one line."""
    parser = OneLineParser(prog="live_load.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", "-k", type=int, default=1000, help="websocket subscribers K (default 1000)")
    parser.add_argument("--rate", "-r", type=int, default=200, help="ballots per second R (default 200)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of ballots (default 10)")
    parser.add_argument("--servers", type=int, default=2, help="daphne processes, one port each (default 2)")
    parser.add_argument("--layer", default="redis", help="channel layer: redis or pubsub (default redis)")
    parser.add_argument("--matrix", action="store_true", help="run K in 1000,5000 x R in 200,1000; markdown table")
    parser.add_argument("--markdown", action="store_true", help="print the figures as markdown tables")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the final version (default 10)")
    parser.add_argument(
        "--backlog",
        type=float,
        default=10.0,
        help="seconds a late ballot may wait to be sent after the last is due (10)",
    )
    parser.add_argument("--debounce", type=float, default=0.5, help="PLENUM_RESULT_DEBOUNCE_SECONDS (default 0.5)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="CELERY_WORKER_CONCURRENCY (default 2)")
    parser.add_argument("--http-connections", type=int, default=64, help="ballot sender's connection pool (64)")
    parser.add_argument("--client-procs", type=int, default=1, help="processes sharing the subscribers (default 1)")
    parser.add_argument("--connect-concurrency", type=int, default=100, help="websocket handshakes at once (100)")
    parser.add_argument("--database", default="plenum_bench", help="PostgreSQL database to create and drop")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5", help="Redis database to flush and use")
    parser.add_argument("--profile", metavar="DIR", help="record py-spy profiles of the servers into DIR")
    args = parser.parse_args(argv)

    combos = MATRIX if args.matrix else ((args.subscribers, args.rate),)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    most = max(k for k, _ in combos)
    if args.layer not in LAYERS:
        parser.error(f"--layer must be one of {', '.join(LAYERS)}, not {args.layer!r}")
    if not 1 <= args.subscribers <= 50_000 or not 1 <= args.rate <= 20_000:
        parser.error("--subscribers must be 1..50000 and --rate 1..20000")
    if most + 1000 > nofile:
        parser.error(f"{most} subscribers need more open files than the hard limit {nofile} allows")
    if not 0 < args.duration <= 300 or not 0 < args.wait <= 120 or not 0 <= args.backlog <= 120:
        parser.error("--duration must be in (0, 300] seconds, --wait and --backlog in (0, 120]")
    if not 0 <= args.debounce <= 10:
        parser.error("--debounce must be in [0, 10] seconds")
    if not 1 <= args.servers <= 16 or not 1 <= args.client_procs <= 16 or not 1 <= args.worker_concurrency <= 16:
        parser.error("--servers, --client-procs and --worker-concurrency must be 1..16")
    if not 1 <= args.http_connections <= 1000 or not 1 <= args.connect_concurrency <= 1000:
        parser.error("--http-connections and --connect-concurrency must be 1..1000")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.database) or args.database.startswith("test"):
        parser.error(f"--database {args.database!r} must be a plain lower-case name not starting with 'test'")
    if not re.fullmatch(r"redis://[^/\s]+/\d+", args.redis_url):
        parser.error(f"--redis-url {args.redis_url!r} must name a database number, e.g. redis://127.0.0.1:6379/5")
    for program in ("daphne", "celery"):
        if not (BIN / program).exists():
            parser.error(f"{BIN / program} is missing; run this with the project's .venv/bin/python")
    if args.profile and not shutil.which("py-spy", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"):
        parser.error("--profile needs py-spy (pip install py-spy into the venv)")
    return Options(
        combos=combos,
        duration=args.duration,
        servers=args.servers,
        layer=args.layer,
        markdown=args.markdown or args.matrix,
        wait=args.wait,
        backlog=args.backlog,
        debounce=args.debounce,
        worker_concurrency=args.worker_concurrency,
        http_connections=args.http_connections,
        client_procs=args.client_procs,
        connect_concurrency=args.connect_concurrency,
        database=args.database,
        redis_url=args.redis_url,
        profile_dir=Path(args.profile) if args.profile else None,
    )


# --- the stack: database, Redis, servers ----------------------------------------------------------


def server_env(options: Options) -> dict[str, str]:
    """The environment of every Plenum process of the run (services mode, the chosen layer)."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{options.database}",
        REDIS_URL=options.redis_url,
        DJANGO_SECRET_KEY="plenum-live-load-benchmark-only-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        PLENUM_CHANNEL_LAYER=options.layer,
        PLENUM_RESULT_DEBOUNCE_SECONDS=str(options.debounce),
        CELERY_WORKER_CONCURRENCY=str(options.worker_concurrency),
        PYTHONUNBUFFERED="1",
    )
    env.pop("DJANGO_DEBUG", None)
    return env


def admin_sql(statement: str) -> None:
    """Run one statement on the server's maintenance database (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(statement)


def flush_redis(url: str) -> None:
    """Empty the benchmark's Redis database (left-over channel layer keys and Celery queues)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def manage(env: dict[str, str], *args: str, spec: dict[str, Any] | None = None) -> str:
    """Run ``manage.py`` with the benchmark's environment and return its stdout; BenchError on failure."""
    run_env = dict(env, PLENUM_BENCH_SPEC=json.dumps(spec or {}))
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise BenchError(f"manage.py {args[0]} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def shell_json(env: dict[str, str], code: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run Django code via ``manage.py shell -c`` and parse the JSON object it prints last."""
    lines = [line for line in manage(env, "shell", "-c", code, spec=spec).splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError("the setup code printed no JSON")
    return json.loads(lines[-1])


def free_ports(count: int) -> list[int]:
    """``count`` TCP ports free on loopback right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Stack:
    """The daphne processes and the Celery worker of one run, started and stopped together."""

    def __init__(self, env: dict[str, str], servers: int, log_dir: Path) -> None:
        self.env = env
        self.ports = free_ports(servers)
        self.log_dir = log_dir
        self.daphnes: list[subprocess.Popen[bytes]] = []
        self.worker: subprocess.Popen[bytes] | None = None

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "wb")  # the child keeps its own descriptor
        # Each server leads its own process group, so the worker's pool children stop with it.
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return process

    def log_tail(self, name: str, lines: int = 15) -> str:
        """The last lines of a server's log, for error messages."""
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def start(self) -> None:
        """Start the worker and the daphne processes and wait until each is ready; BenchError if one is not."""
        self.worker = self._spawn("worker", [str(BIN / "celery"), "-A", "config", "worker", "--loglevel", "INFO"])
        for port in self.ports:
            command = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
            self.daphnes.append(self._spawn(f"daphne-{port}", command))
        deadline = time.monotonic() + START_TIMEOUT
        waiting = {f"daphne-{port}": port for port in self.ports}
        worker_ready = False
        while waiting or not worker_ready:
            for name, process in self.processes().items():
                if process.poll() is not None:
                    raise BenchError(f"{name} exited with status {process.returncode}:\n{self.log_tail(name)}")
            for name, port in list(waiting.items()):
                if http_status(port, "/api/v1/openapi.json") == 200:
                    del waiting[name]
            worker_ready = worker_ready or " ready." in (self.log_dir / "worker.log").read_text(errors="replace")
            if time.monotonic() > deadline:
                raise BenchError(f"not ready after {START_TIMEOUT:.0f} s: {', '.join(waiting) or 'worker'}")
            time.sleep(0.2)

    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        """Every server process by name."""
        named = {f"daphne-{port}": process for port, process in zip(self.ports, self.daphnes, strict=False)}
        if self.worker is not None:
            named["worker"] = self.worker
        return named

    def stop(self) -> None:
        """Stop every server process group: SIGTERM, then SIGKILL after 10 s."""
        running = [process for process in self.processes().values() if process.poll() is None]
        for process in running:
            signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(process.pid, signal.SIGKILL)
                process.wait(5)

    def error_lines(self) -> dict[str, int]:
        """How many tracebacks and ERROR lines each server has logged so far (server-side failures)."""
        counts = {}
        for name in self.processes():
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
            counts[name] = text.count("Traceback") + len(re.findall(r"\bERROR\b", text))
        return counts


def signal_group(pid: int, signum: int) -> None:
    """Send ``signum`` to the process group led by ``pid`` (a server this script started)."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass


def http_status(port: int, path: str) -> int | None:
    """The status of a GET on loopback, or None when nothing answers yet."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


# --- resource sampling from /proc -----------------------------------------------------------------


def proc_stat(pid: int) -> tuple[int, str, int, int] | None:
    """(parent pid, command name, RSS in kB, CPU ticks of the process and its reaped children) or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17, rss field 24.
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return int(fields[1]), name, int(fields[21]) * PAGE_KB, ticks


def process_table() -> dict[int, tuple[int, str, int, int]]:
    """proc_stat of every process on the machine."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None:
                table[int(entry)] = stat
    return table


def tree(table: dict[int, tuple[int, str, int, int]], roots: list[int]) -> list[int]:
    """The pids of ``roots`` and all their descendants."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def machine_busy_ticks() -> int:
    """CPU ticks the whole machine spent busy (not idle, not waiting for I/O) since boot, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values) - values[3] - values[4]


class Sampler:
    """Samples the servers' memory (peak RSS) in a thread and takes CPU snapshots per role on demand."""

    def __init__(self, stack: Stack, period: float = 0.25) -> None:
        self.stack = stack
        self.period = period
        self.client_pids: list[int] = []
        self.peak_kb: dict[str, int] = {"daphne": 0, "worker": 0, "total": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def roles(self, table: dict[int, tuple[int, str, int, int]]) -> dict[str, list[int]]:
        """The pids of each role: daphne, worker (with its pool), postgres, redis, client."""
        postmasters = [
            pid
            for pid, stat in table.items()
            if stat[1] == "postgres" and table.get(stat[0], ("", ""))[1] != "postgres"
        ]
        return {
            "daphne": [process.pid for process in self.stack.daphnes if process.pid in table],
            "worker": tree(table, [self.stack.worker.pid]) if self.stack.worker else [],
            "postgres": tree(table, postmasters),
            "redis": [pid for pid, stat in table.items() if stat[1] == "redis-server"],
            "client": tree(table, self.client_pids),
        }

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            table = process_table()
            roles = self.roles(table)
            rss = {role: sum(table[pid][2] for pid in roles[role]) for role in ("daphne", "worker")}
            for role, kb in rss.items():
                self.peak_kb[role] = max(self.peak_kb[role], kb)
            self.peak_kb["total"] = max(self.peak_kb["total"], sum(rss.values()))

    def start(self) -> None:
        """Start sampling memory."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling memory."""
        self._stop.set()
        self._thread.join()

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds used so far per role (the client's coordinator counts without its reaped children)."""
        table = process_table()
        seconds = {role: sum(table[pid][3] for pid in pids) / TICK for role, pids in self.roles(table).items()}
        own = os.times()
        seconds["client"] += own.user + own.system
        seconds["machine"] = machine_busy_ticks() / TICK
        return seconds


# --- load generator: subscriber and sender processes ----------------------------------------------


@dataclass(frozen=True)
class SubscriberSpec:
    """One websocket subscriber: where it connects and as whom."""

    url: str
    origin: str
    token: str


@dataclass
class Subscription:
    """What one subscriber saw: receipt times (wall clock), versions and ballot counts, and how it ended."""

    times: list[float] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    unparsed: int = 0
    error: str | None = None


def raise_nofile() -> None:
    """Raise this process's open-file limit to the hard limit (thousands of sockets)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _watch(spec: SubscriberSpec, sub: Subscription, gate: asyncio.Semaphore, opened: asyncio.Queue[bool]) -> None:
    """Open one websocket (at most ``gate`` handshakes at once) and record every message until cancelled."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with gate:
        try:
            ws = await connect(
                spec.url,
                origin=spec.origin,  # type: ignore[arg-type]
                additional_headers={"Authorization": f"Bearer {spec.token}"},
                compression=None,
                proxy=None,
                open_timeout=CONNECT_TIMEOUT,
                ping_interval=None,
                close_timeout=2,
                max_size=2**22,
            )
        except Exception as exc:  # any failure to connect is a figure, not a crash
            sub.error = f"connect: {type(exc).__name__}: {exc}"[:200]
            opened.put_nowait(False)
            return
    opened.put_nowait(True)
    try:
        async for message in ws:
            now = time.time()  # wall clock, to compare with the commit times the server wrote
            head = message[:HEAD_CHARS] if isinstance(message, str) else message[:HEAD_CHARS].decode(errors="replace")
            version, count = VERSION_RE.search(head), COUNT_RE.search(head)
            if version is None or count is None:
                sub.unparsed += 1
                continue
            sub.times.append(now)
            sub.versions.append(int(version.group(1)))
            sub.counts.append(int(count.group(1)))
        sub.error = f"closed by the server: {ws.close_code} {ws.close_reason}"[:200]
    except ConnectionClosed as exc:
        sub.error = f"closed: {exc}"[:200]
    except asyncio.CancelledError:
        ws.transport.abort()
        raise


async def _subscribers(specs: list[SubscriberSpec], concurrency: int, commands: Any, results: Any, index: int) -> None:
    loop = asyncio.get_running_loop()
    subs = [Subscription() for _ in specs]
    gate = asyncio.Semaphore(concurrency)
    opened: asyncio.Queue[bool] = asyncio.Queue()
    started = time.monotonic()
    tasks = [asyncio.create_task(_watch(spec, sub, gate, opened)) for spec, sub in zip(specs, subs, strict=True)]
    connected = 0
    for _ in specs:
        connected += await opened.get()
    errors = Counter(sub.error[:100] for sub in subs if sub.error)
    results.put(
        ("ready", index, {"connected": connected, "seconds": time.monotonic() - started, "errors": dict(errors)})
    )

    _verb, target, deadline = await loop.run_in_executor(None, commands.get)
    while time.monotonic() < deadline:
        if all(sub.error or (sub.counts and sub.counts[-1] >= target) for sub in subs):
            break
        await asyncio.sleep(0.05)
    payload = [
        (
            np.array(sub.times),
            np.array(sub.versions, dtype=np.int64),
            np.array(sub.counts, dtype=np.int64),
            sub.unparsed,
            sub.error,
        )
        for sub in subs
    ]
    results.put(("delivered", index, payload))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def subscriber_main(specs: list[SubscriberSpec], concurrency: int, commands: Any, results: Any, index: int) -> None:
    """Client process: hold ``specs`` websockets open, then report every message they received."""
    raise_nofile()
    try:
        asyncio.run(_subscribers(specs, concurrency, commands, results, index))
    except Exception as exc:  # reported to the coordinator, which stops the run
        results.put(("error", index, f"subscribers: {type(exc).__name__}: {exc}"))


async def _send(
    ballots: list[tuple[str, str, bytes]], rate: float, connections: int, backlog: float, commands: Any, results: Any
) -> None:
    import httpx

    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx.Timeout(REQUEST_TIMEOUT)
    due = np.zeros(len(ballots))
    began = np.zeros(len(ballots))
    done = np.zeros(len(ballots))
    status = np.full(len(ballots), ABANDONED, dtype=np.int64)
    errors: Counter[str] = Counter()
    # Requests wait here rather than in httpx's pool, whose queue costs time quadratic in its length.
    in_flight = asyncio.Semaphore(connections)

    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client:

        async def post(number: int) -> None:
            url, token, body = ballots[number]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            async with in_flight:
                began[number] = time.monotonic()
                if began[number] > cutoff:
                    return  # the backlog outgrew the bound: this ballot is never sent
                try:
                    response = await client.post(url, content=body, headers=headers)
                    status[number] = response.status_code
                    if response.status_code not in (200, 201):
                        errors[f"HTTP {response.status_code}: {response.text[:120]}"] += 1
                except httpx.HTTPError as exc:
                    status[number] = FAILED
                    errors[f"{type(exc).__name__}: {exc}"[:160]] += 1
                done[number] = time.monotonic()

        results.put(("ready", -1, None))
        _verb, start_at = await loop.run_in_executor(None, commands.get)
        cutoff = start_at + len(ballots) / rate + backlog
        tasks = []
        for number in range(len(ballots)):
            due[number] = start_at + number / rate
            delay = due[number] - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(number)))
        await asyncio.gather(*tasks)
    results.put(("sent", -1, {"due": due, "began": began, "done": done, "status": status, "errors": dict(errors)}))


def sender_main(
    ballots: list[tuple[str, str, bytes]], rate: float, connections: int, backlog: float, commands: Any, results: Any
) -> None:
    """Client process: post ``ballots`` (url, token, body) at ``rate`` per second from the start time it is sent,
    at most ``connections`` at a time; a ballot not sent within ``backlog`` seconds after the last is due is dropped."""
    raise_nofile()
    try:
        asyncio.run(_send(ballots, rate, connections, backlog, commands, results))
    except Exception as exc:  # reported to the coordinator, which stops the run
        results.put(("error", -1, f"sender: {type(exc).__name__}: {exc}"))


# --- one run --------------------------------------------------------------------------------------


@dataclass
class Raw:
    """Everything measured in one run, before it is summarised."""

    subscribers: int
    rate: int
    connected: int = 0
    connect_seconds: float = 0.0
    connect_errors: dict[str, int] = field(default_factory=dict)
    sent: dict[str, Any] = field(default_factory=dict)
    commits: Any = None  # sorted commit times of the question's ballots (wall clock, from the database)
    subscriptions: list[tuple[Any, ...]] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    peak_kb: dict[str, int] = field(default_factory=dict)
    api_result: dict[str, Any] = field(default_factory=dict)
    server_errors: dict[str, int] = field(default_factory=dict)


def expect(results: Any, verb: str, count: int, timeout: float) -> list[tuple[int, Any]]:
    """Collect ``count`` messages ``verb`` from the client processes; BenchError on an error or a timeout."""
    collected = []
    deadline = time.monotonic() + timeout
    while len(collected) < count:
        try:
            got, index, payload = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise BenchError(
                f"client processes: only {len(collected)} of {count} '{verb}' after {timeout:.0f} s"
            ) from None
        if got == "error":
            raise BenchError(payload)
        if got != verb:
            raise BenchError(f"client processes: expected '{verb}', got '{got}'")
        collected.append((index, payload))
    return collected


def drive(
    options: Options, stack: Stack, sampler: Sampler, tokens: list[str], question: dict[str, Any], raw: Raw
) -> None:
    """Run the client processes against the started stack and fill ``raw`` with their measurements."""
    k, rate = raw.subscribers, raw.rate
    total = int(rate * options.duration)
    qid = question["question"]
    subscriber_specs = [
        SubscriberSpec(
            url=f"ws://127.0.0.1:{port}/ws/questions/{qid}/",
            origin=f"http://127.0.0.1:{port}",
            token=tokens[number % len(tokens)],
        )
        for number in range(k)
        for port in [stack.ports[number % len(stack.ports)]]
    ]
    ballots = [
        (
            f"http://127.0.0.1:{stack.ports[number % len(stack.ports)]}/api/v1/questions/{qid}/ballots",
            tokens[number],
            json.dumps({"choice": question["options"][number % len(question["options"])]}).encode(),
        )
        for number in range(total)
    ]
    context = mp.get_context("spawn")
    results = context.Queue()
    procs = min(options.client_procs, k)
    sub_commands = [context.Queue() for _ in range(procs)]
    send_commands = context.Queue()
    children = [
        context.Process(
            target=subscriber_main,
            args=(
                subscriber_specs[index::procs],
                max(1, options.connect_concurrency // procs),
                sub_commands[index],
                results,
                index,
            ),
            daemon=True,
        )
        for index in range(procs)
    ]
    children.append(
        context.Process(
            target=sender_main,
            args=(ballots, rate, options.http_connections, options.backlog, send_commands, results),
            daemon=True,
        )
    )
    profilers: list[subprocess.Popen[bytes]] = []
    finished = False
    try:
        for child in children:
            child.start()
        sampler.client_pids = [child.pid for child in children if child.pid is not None]
        ready = expect(results, "ready", procs + 1, k * 0.05 + PHASE_SLACK)
        for _index, info in ready:
            if info is not None:
                raw.connected += info["connected"]
                raw.connect_seconds = max(raw.connect_seconds, info["seconds"])
                for reason, number in info["errors"].items():
                    raw.connect_errors[reason] = raw.connect_errors.get(reason, 0) + number

        start_at = time.monotonic() + 1.0
        if options.profile_dir is not None:
            profilers = start_profilers(options, stack, f"k{k}-r{rate}-{options.layer}")
        send_commands.put(("start", start_at))
        print(
            f"  {raw.connected:,} websockets open in {raw.connect_seconds:.1f} s; sending {total:,} ballots", flush=True
        )
        time.sleep(max(0.0, start_at - time.monotonic()))
        before = sampler.cpu_snapshot()  # CPU is counted from the first ballot on
        sending = options.duration + options.backlog + REQUEST_TIMEOUT + PHASE_SLACK
        (_index, raw.sent), *_ = expect(results, "sent", 1, sending)
        accepted = int(np.isin(raw.sent["status"], (200, 201)).sum())
        last = float(raw.sent["done"].max()) if total else time.monotonic()
        for commands in sub_commands:
            commands.put(("finish", accepted, max(time.monotonic(), last) + options.wait))
        delivered = expect(results, "delivered", procs, options.wait + PHASE_SLACK)
        after = sampler.cpu_snapshot()
        raw.server_errors = stack.error_lines()  # before the subscribers leave: teardown errors are not the run's
        raw.cpu = {role: after[role] - before[role] for role in after}
        raw.cpu["window"] = time.monotonic() - start_at
        for _index, payload in sorted(delivered, key=lambda item: item[0]):
            raw.subscriptions.extend(payload)
        raw.options = question["options"]
        finished = True
    finally:
        for profiler in profilers:
            try:
                profiler.wait(options.duration + 30 if finished else 0.1)
            except subprocess.TimeoutExpired:
                profiler.kill()
        for child in children:
            child.join(15 if finished else 0.1)  # after an error or an interrupt, stop the clients at once
            if child.is_alive():
                child.kill()
                child.join()


def start_profilers(options: Options, stack: Stack, label: str) -> list[subprocess.Popen[bytes]]:
    """py-spy ``record`` each server process for the ballot phase (raw collapsed stacks in the profile folder)."""
    assert options.profile_dir is not None
    options.profile_dir.mkdir(parents=True, exist_ok=True)
    py_spy = shutil.which("py-spy", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    seconds = str(math.ceil(options.duration + 2))
    profilers = []
    for name, process in stack.processes().items():
        output = options.profile_dir / f"{label}-{name}.txt"
        command = [str(py_spy), "record", "--pid", str(process.pid), "--duration", seconds, "--rate", "100", "--gil"]
        command += ["--format", "raw", "--output", str(output), "--nonblocking"]
        if name == "worker":
            command.append("--subprocesses")
        profilers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return profilers


def run_once(options: Options, env: dict[str, str], setup: dict[str, Any], k: int, rate: int, log_dir: Path) -> Raw:
    """Start a fresh stack, create and open a question, drive the load, read the final result, stop the stack."""
    flush_redis(options.redis_url)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"K={k:,}, R={rate:,}: starting the servers (load average {' '.join(load)})", flush=True)
    stack = Stack(env, options.servers, log_dir)
    raw = Raw(subscribers=k, rate=rate)
    try:
        stack.start()
        spec = {"session": setup["session"], "text": f"Live load K={k} R={rate}", "labels": OPTION_LABELS}
        question = shell_json(env, QUESTION_CODE, spec)
        sampler = Sampler(stack)
        sampler.start()
        try:
            drive(options, stack, sampler, setup["tokens"], question, raw)
        finally:
            sampler.stop()
        raw.commits = np.array(shell_json(env, COMMITS_CODE, {"question": question["question"]})["commits"])
        raw.peak_kb = dict(sampler.peak_kb)
        raw.api_result = read_result(stack.ports[0], question["question"], setup["tokens"][0])
    finally:
        stack.stop()
    return raw


def read_result(port: int, qid: int, token: str) -> dict[str, Any]:
    """GET the question's current result through the API (ballot_count and tallies)."""
    import httpx

    response = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/questions/{qid}/result",
        headers={"Authorization": f"Bearer {token}"},
        timeout=REQUEST_TIMEOUT,
        trust_env=False,
    )
    return response.json() if response.status_code == 200 else {"error": f"HTTP {response.status_code}"}


# --- figures --------------------------------------------------------------------------------------


def percentile(values: np.ndarray, q: float) -> float:
    """The q-th percentile of ``values``, the nearest value above (nan when empty; inf stands for "never")."""
    return float(np.percentile(values, q, method="higher")) if len(values) else math.nan


def summarise(raw: Raw, duration: float) -> dict[str, Any]:
    """Turn a run's measurements into the reported figures (times in ms)."""
    due, began, done, status = raw.sent["due"], raw.sent["began"], raw.sent["done"], raw.sent["status"]
    ok = np.isin(status, (200, 201))
    accepted = int(ok.sum())
    latency_ms = (done[ok] - due[ok]) * 1000  # from when the ballot was due: includes waiting for a connection
    service_ms = (done[ok] - began[ok]) * 1000  # from when its request was sent
    span = float(done[ok].max() - due[0]) if accepted else math.nan
    commit = raw.commits  # the i-th ballot committed (1-based) is counted from commit[i - 1] on
    committed = len(commit)

    last_ms, never, backwards, messages, disconnected, unparsed = [], 0, 0, 0, 0, 0
    histogram = np.zeros(1, dtype=np.int64)  # delivery latency over every (subscriber, ballot) pair, 1 ms bins
    pair_max, pairs_missing, final_counts = 0.0, 0, Counter()
    for times, versions, counts, not_parsed, error in raw.subscriptions:
        messages += len(times)
        unparsed += not_parsed
        disconnected += bool(error and error.startswith("closed"))
        backwards += int((np.diff(versions) <= 0).sum())
        final_counts[int(counts[-1]) if len(counts) else -1] += 1
        if committed == 0:
            continue
        seen = np.maximum.accumulate(counts) if len(counts) else counts
        first = np.searchsorted(seen, np.arange(1, committed + 1), side="left")
        got = first < len(seen)
        pairs_missing += int((~got).sum())
        if not got[-1]:
            never += 1
            last_ms.append(math.inf)
        if got.any():
            lag = np.maximum(times[first[got]] - commit[got], 0) * 1000
            pair_max = max(pair_max, float(lag.max()))
            bins = np.bincount(lag.astype(np.int64))
            if len(bins) > len(histogram):
                histogram = np.pad(histogram, (0, len(bins) - len(histogram)))
            histogram[: len(bins)] += bins
            if got[-1]:
                last_ms.append(lag[-1])
    cumulative = np.cumsum(histogram)

    def pair_percentile(q: float) -> float:
        return float(np.searchsorted(cumulative, cumulative[-1] * q / 100)) if cumulative[-1] else math.nan

    tallies = raw.api_result.get("tallies") or {}
    expected = Counter(raw.options[number % len(raw.options)] for number in np.flatnonzero(ok))
    tally_ok = bool(tallies) and all(Fraction(str(tallies.get(key, 0))) == expected[key] for key in raw.options)
    window = raw.cpu.get("window", math.nan)
    cores = {role: raw.cpu.get(role, 0) / window for role in ROLES}
    cores["machine"] = raw.cpu.get("machine", 0) / window
    cores["other"] = max(0.0, cores["machine"] - sum(cores[role] for role in ROLES))
    last = np.array(last_ms)
    return {
        "K": raw.subscribers,
        "R": raw.rate,
        "connected": raw.connected,
        "connect_s": raw.connect_seconds,
        "connect_errors": raw.connect_errors,
        "offered": len(status),
        "sent": int((status != ABANDONED).sum()),
        "abandoned": int((status == ABANDONED).sum()),
        "accepted": accepted,
        "committed": committed,
        "failed": dict(raw.sent["errors"]),
        "accepted_per_s": accepted / span if accepted else 0.0,
        "req_p50": percentile(latency_ms, 50),
        "req_p95": percentile(latency_ms, 95),
        "req_p99": percentile(latency_ms, 99),
        "service_p50": percentile(service_ms, 50),
        "service_p95": percentile(service_ms, 95),
        "last_p50": percentile(last, 50),
        "last_p95": percentile(last, 95),
        "last_max": float(last.max()) if len(last) else math.nan,
        "all_p50": pair_percentile(50),
        "all_p95": pair_percentile(95),
        "all_max": pair_max,
        "pairs_missing": pairs_missing,
        "never_final": never,
        "disconnected": disconnected,
        "backwards": backwards,
        "dropped": never + backwards,
        "messages_per_sub": messages / max(1, len(raw.subscriptions)),
        "unparsed": unparsed,
        "final_ws_counts": dict(final_counts.most_common(3)),
        "api_count": raw.api_result.get("ballot_count"),
        "api_version": raw.api_result.get("version"),
        "tally_ok": tally_ok and raw.api_result.get("ballot_count") == accepted,
        "rss_mb": raw.peak_kb.get("total", 0) / 1024,
        "rss_daphne_mb": raw.peak_kb.get("daphne", 0) / 1024,
        "rss_worker_mb": raw.peak_kb.get("worker", 0) / 1024,
        "cores": cores,
        "window_s": window,
        "server_errors": raw.server_errors,
        "duration": duration,
    }


def targets(fig: dict[str, Any], *, short: bool = False) -> list[str]:
    """The issue's targets this run misses, each with by how much (``short``: for a table cell)."""
    misses = []
    if fig["accepted_per_s"] < 0.98 * fig["R"]:
        misses.append(f"{'' if short else 'accepted '}{fig['accepted_per_s']:,.0f}/s of {fig['R']:,}/s")
    if not fig["req_p95"] < 100:
        misses.append(f"request p95 {fig['req_p95']:,.0f} ms{'' if short else ' > 100 ms'}")
    if not fig["last_p95"] <= 1000:
        last = ms(fig["last_p95"]) + ("" if math.isinf(fig["last_p95"]) else " ms")
        misses.append(f"last p95 {last}" if short else f"last-ballot delivery p95 {last} > 1,000 ms")
    if fig["accepted"] != fig["offered"]:
        misses.append(
            f"{fig['offered'] - fig['accepted']:,} not accepted"
            if short
            else f"{fig['offered'] - fig['accepted']:,} of {fig['offered']:,} ballots not accepted "
            f"({fig['abandoned']:,} never sent, {fig['sent'] - fig['accepted']:,} failed)"
        )
    if not fig["tally_ok"]:
        misses.append(f"final tally {fig['api_count']} != {fig['accepted']:,} accepted")
    if fig["dropped"]:
        misses.append(f"{fig['dropped']:,} {'' if short else 'updates '}dropped")
    return misses


def ms(value: float) -> str:
    """A duration in ms for a table cell."""
    if math.isnan(value):
        return "-"
    return "never" if math.isinf(value) else f"{value:,.0f}"


def text_report(fig: dict[str, Any], layer: str, servers: int) -> str:
    """A run's figures as plain text."""
    cores = ", ".join(f"{role} {value:.2f}" for role, value in fig["cores"].items())
    misses = targets(fig)
    run = f"K={fig['K']:,} subscribers, R={fig['R']:,} ballots/s for {fig['duration']:g} s"
    return "\n".join(
        [
            f"{run}, {servers} daphne, layer {layer}",
            f"  subscribers connected: {fig['connected']:,}/{fig['K']:,} in {fig['connect_s']:.1f} s "
            f"{fig['connect_errors'] or ''}",
            f"  ballots: {fig['offered']:,} offered, {fig['sent']:,} sent ({fig['abandoned']:,} never sent: backlog), "
            f"{fig['accepted']:,} accepted, {fig['accepted_per_s']:,.0f}/s; failures {fig['failed'] or 'none'}",
            f"  ballot request latency ms (from due): p50 {ms(fig['req_p50'])}, p95 {ms(fig['req_p95'])}, "
            f"p99 {ms(fig['req_p99'])}; from sending p50 {ms(fig['service_p50'])}, p95 {ms(fig['service_p95'])}",
            f"  delivery of the last ballot ms: p50 {ms(fig['last_p50'])}, p95 {ms(fig['last_p95'])}, "
            f"max {ms(fig['last_max'])}",
            f"  delivery of every ballot ms: p50 {ms(fig['all_p50'])}, p95 {ms(fig['all_p95'])}, "
            f"max {ms(fig['all_max'])}",
            f"  dropped: {fig['never_final']:,} subscribers without the final version "
            f"({fig['disconnected']:,} disconnected by the server), {fig['backwards']:,} versions not increasing; "
            f"{fig['messages_per_sub']:.1f} messages per subscriber ({fig['unparsed']:,} without version and count); "
            f"final counts seen {fig['final_ws_counts']}",
            f"  final tally: API ballot_count {fig['api_count']} (version {fig['api_version']}), "
            f"{fig['committed']:,} ballots in the database, "
            f"equals accepted with matching tallies: {'yes' if fig['tally_ok'] else 'NO'}",
            f"  server peak RSS: {fig['rss_mb']:,.0f} MB "
            f"(daphne {fig['rss_daphne_mb']:,.0f}, worker {fig['rss_worker_mb']:,.0f})",
            f"  CPU cores busy over {fig['window_s']:.1f} s: {cores}",
            f"  server log tracebacks/ERROR lines: {fig['server_errors']}",
            f"  targets: {'all met' if not misses else 'MISSED: ' + '; '.join(misses)}",
        ]
    )


def markdown_tables(figures: list[dict[str, Any]]) -> str:
    """The runs' figures as two markdown tables: the issue's figures, then connections and CPU."""
    lines = [
        "| K | R | offered / accepted | accepted/s | request p50 / p95 / p99 ms "
        "| last ballot delivered p50 / p95 / max ms | every ballot delivered p50 / p95 / max ms "
        "| dropped | final tally = accepted | server RSS MB | targets |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for fig in figures:
        misses = targets(fig, short=True)
        lines.append(
            f"| {fig['K']:,} | {fig['R']:,} | {fig['offered']:,} / {fig['accepted']:,} "
            f"| {fig['accepted_per_s']:,.0f} "
            f"| {ms(fig['req_p50'])} / {ms(fig['req_p95'])} / {ms(fig['req_p99'])} "
            f"| {ms(fig['last_p50'])} / {ms(fig['last_p95'])} / {ms(fig['last_max'])} "
            f"| {ms(fig['all_p50'])} / {ms(fig['all_p95'])} / {ms(fig['all_max'])} "
            f"| {fig['dropped']:,} | {'yes' if fig['tally_ok'] else 'NO'} ({fig['api_count']}) "
            f"| {fig['rss_mb']:,.0f} | {'met' if not misses else 'MISS: ' + '; '.join(misses)} |"
        )
    lines += [
        "",
        "| K | R | connected (s) | disconnected | messages per subscriber | request from sending p50 / p95 ms "
        "| CPU cores: daphne / worker / postgres / redis / client / other / machine |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for fig in figures:
        cores = " / ".join(f"{fig['cores'][role]:.2f}" for role in (*ROLES, "other", "machine"))
        lines.append(
            f"| {fig['K']:,} | {fig['R']:,} | {fig['connected']:,} ({fig['connect_s']:.1f} s) "
            f"| {fig['disconnected']:,} "
            f"| {fig['messages_per_sub']:.1f} | {ms(fig['service_p50'])} / {ms(fig['service_p95'])} | {cores} |"
        )
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------


def terminate(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so that the servers and the database are cleaned up."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran (whether or not targets were met), 1 when it could not run."""
    options = parse_args(sys.argv[1:] if argv is None else argv)
    raise_nofile()
    signal.signal(signal.SIGTERM, terminate)
    env = server_env(options)
    lock = open(Path(tempfile.gettempdir()) / f"plenum-live-load-{options.database}.lock", "w")  # held until exit
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"live_load.py: another run uses the database {options.database}; use --database", file=sys.stderr)
        return 1
    log_dir = Path(tempfile.gettempdir()) / f"plenum-live-load-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    participants = max(max(k, math.ceil(rate * options.duration)) for k, rate in options.combos)
    figures = []
    print(
        f"server logs in {log_dir}; layer {options.layer}, {options.servers} daphne, database {options.database}",
        flush=True,
    )
    try:
        admin_sql(f'DROP DATABASE IF EXISTS "{options.database}" WITH (FORCE)')
        admin_sql(f'CREATE DATABASE "{options.database}"')
        flush_redis(options.redis_url)
        manage(env, "migrate", "--noinput")
        started = time.monotonic()
        setup = shell_json(env, SETUP_CODE, {"participants": participants})
        print(f"set up {participants:,} participants in {time.monotonic() - started:.1f} s", flush=True)
        for k, rate in options.combos:
            raw = run_once(options, env, setup, k, rate, log_dir)
            figures.append(summarise(raw, options.duration))
            print(text_report(figures[-1], options.layer, options.servers), flush=True)
    except BenchError as exc:
        print(f"live_load.py: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("live_load.py: interrupted", file=sys.stderr)
        return 130
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{options.database}" WITH (FORCE)')
        flush_redis(options.redis_url)
    if options.markdown:
        print()
        print(markdown_tables(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
