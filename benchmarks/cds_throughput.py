"""Throughput and latency of patient-view with a full prefetch, under gunicorn, vs a bare endpoint.

    .venv/bin/python benchmarks/cds_throughput.py [--seconds 5] [--rounds 3] [--connections 8]
        [--workers 2] [--server-threads 4] [--client auto|wrk|threads] [--database-url URL]

Starts one gunicorn (127.0.0.1) configured as `aa-jak serve --workers W --threads T` runs it
(`aa_jak.cli.build_server`: gthread workers, sync ones for one thread) with the product app plus one
benchmark-only route, `POST /bench/empty`, that parses the same body and returns
`{"cards": []}` (the floor: web server + json.loads; performance.md). Both endpoints are
driven side by side in the same server by the same client with the same body: a warm-up
of each, then `--rounds` alternating rounds of `--seconds` each, so drift in the machine's
load hits both alike. Printed per endpoint: req/s, p50, p95 (over all rounds), and the
ratio of throughputs (goal >= 0.5). A third endpoint, the same app mounted under
/bench/no-core with the clinical core's answer replayed, shows what the service costs
around the core; a fourth, /bench/no-core-no-store, also skips the storage write (card map
and audit row), so the rows show what each of the two costs. Prints numbers; asserts nothing.

Client: `wrk` (Debian package `wrk`; one thread, `--connections` keep-alive connections, a
Lua script for the POST) when it is on PATH, else a closed-loop Python client (threads +
requests). On a 2-core machine the Python client needs about a core of its own: it caps the
bare endpoint far below what the server can do and so flatters the ratio; prefer wrk.

The request is a typical follow-up patient (synthetic `baricitinib_week12_lipids_due`)
with its lab history padded to 154 Observations, evaluated at the synthetic anchor date.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cds_common import ROOT, LoadResult, anchor, patient_view_body, run_load, salt_codes


def _app(replay: bool = False, store: bool = True):
    from aa_jak.app import create_app
    from aa_jak.settings import Settings

    app = create_app(
        Settings(
            dev_mode=True,
            secret_key="benchmark-secret-key-not-for-production",  # noqa: S106
            database_url=os.environ["CDS_BENCH_DB"],
            frozen_today=anchor().isoformat(),
            log_level="WARNING",
        )
    )
    if replay:
        state = app.extensions["cds_hooks"]
        state.engine = ReplayEngine(state.engine)
    if not store:
        state.storage = NoStorage
    return app


class ReplayEngine:
    """Benchmark only: the real engine's first answer, returned again without running the core.

    Mounted at /bench/no-core, it measures what the service costs around the clinical core
    (request checks, prefetch collection, rendering, JSON, storage): the ceiling of the ratio
    with this server design if the core took no time at all.
    """

    def __init__(self, engine):
        self._engine = engine
        self._answer = None

    def salt_codes(self):
        return self._engine.salt_codes()

    def observation_codes(self):
        return self._engine.observation_codes()

    def assess(self, resources, drafts, as_of):
        if self._answer is None:
            self._answer = self._engine.assess(resources, drafts, as_of)
        return self._answer


class NoStorage:
    """Benchmark only: the CDS call's storage write (card -> finding map, audit row) skipped."""

    def record_invocation(self, *args, **kwargs) -> None:
        pass


def serve(port: int, workers: int, threads: int) -> None:
    """The server process: `aa-jak serve`'s gunicorn configuration, serving `build_app()`."""
    from aa_jak.cli import build_server

    build_server("127.0.0.1", port, workers, threads=threads, app_factory=build_app).run()


def build_app():  # gunicorn factory: `cds_throughput:build_app()`
    """The product app (dev mode: the benchmark measures the service, not JWT checks), its
    /bench/empty floor, and under /bench/no-core the same app with the core's answer replayed."""
    from flask import Response, request
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    app = _app()

    @app.post("/bench/empty")
    def empty() -> Response:
        json.loads(request.get_data())
        return Response('{"cards":[]}', mimetype="application/json")

    app.wsgi_app = DispatcherMiddleware(
        app.wsgi_app,
        {NO_CORE: _app(replay=True), NO_CORE_NO_STORE: _app(replay=True, store=False)},
    )
    return app


NO_CORE = "/bench/no-core"
NO_CORE_NO_STORE = "/bench/no-core-no-store"
PATIENT_VIEW = "/cds-services/aa-jak-patient-view"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, body: bytes, timeout_s: float = 30.0) -> None:
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not become ready")


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open(%s, "rb"))
wrk.body = file:read("*a")
file:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %%d %%d %%d %%.1f %%.1f %%.1f\\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency.mean))
end
"""


@dataclass
class Round:
    """One bounded run against one endpoint. Latencies in ms; p50/p95 as the client computed them."""

    requests: int
    errors: int
    seconds: float
    p50: float
    p95: float
    mean: float

    @classmethod
    def of(cls, result: LoadResult) -> Round:
        mean = statistics.fmean(result.latencies_ms) if result.latencies_ms else float("nan")
        return cls(
            result.requests,
            result.errors,
            result.seconds,
            result.percentile(50),
            result.percentile(95),
            mean,
        )


def summarise(label: str, rounds: list[Round]) -> tuple[float, str]:
    """Throughput over all rounds; p50/p95 the median of the rounds' (wrk reports percentiles only)."""
    requests = sum(r.requests for r in rounds)
    throughput = requests / sum(r.seconds for r in rounds)
    p50 = statistics.median(r.p50 for r in rounds)
    p95 = statistics.median(r.p95 for r in rounds)
    per_round = " ".join(f"{r.requests / r.seconds:.0f}" for r in rounds)
    line = (
        f"{label:<28} {throughput:8.1f} req/s  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
        f"n={requests} errors={sum(r.errors for r in rounds)}  (per round: {per_round} req/s)"
    )
    return throughput, line


def wrk_round(wrk: str, script: Path, url: str, connections: int, seconds: float) -> Round:
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_RESULT"))
    requests, errors, duration_us, p50, p95, mean = line.split()[1:]
    return Round(
        int(requests),
        int(errors),
        int(duration_us) / 1e6,
        float(p50) / 1000,
        float(p95) / 1000,
        float(mean) / 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per round and endpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", "--threads", type=int, default=8, dest="connections")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--server-threads", type=int, default=4, help="threads per worker, as `aa-jak serve --threads`"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=("auto", "wrk", "threads"), default="auto")
    parser.add_argument(
        "--database-url",
        help="storage (SQLAlchemy URL; its tables are created if missing); default a new SQLite file",
    )
    parser.add_argument("--max-requests", type=int, default=20_000, help="per round (threads client)")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.workers, args.server_threads)
        return

    import requests

    wrk = shutil.which("wrk") if args.client in ("auto", "wrk") else None
    if args.client == "wrk" and wrk is None:
        raise SystemExit("wrk is not on PATH (Debian: apt-get install -y wrk)")

    body, grouped = patient_view_body(salt_codes())
    payload = json.dumps(body).encode()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(payload)
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT % json.dumps(str(body_file)))
        database = args.database_url or f"sqlite:///{tmp}/bench.db"
        env = dict(os.environ, CDS_BENCH_DB=database, PROMETHEUS_MULTIPROC_DIR=tmp)
        env = {k: v for k, v in env.items() if not k.startswith("AA_JAK_")}
        env["AA_JAK_LOG_LEVEL"] = "WARNING"
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                str(port),
                "--workers",
                str(args.workers),
                "--server-threads",
                str(args.server_threads),
            ],
            env=env,
            cwd=ROOT,
        )
        try:
            _wait_ready(f"{base}/bench/empty", payload)
            _wait_ready(f"{base}{PATIENT_VIEW}", payload)
            _wait_ready(f"{base}{NO_CORE}{PATIENT_VIEW}", payload)
            _wait_ready(f"{base}{NO_CORE_NO_STORE}{PATIENT_VIEW}", payload)
            sessions: dict[int, requests.Session] = {}

            def sender(path: str):
                url = base + path

                def send() -> int:
                    import threading

                    session = sessions.setdefault(threading.get_ident(), requests.Session())
                    response = session.post(url, data=payload, headers={"Content-Type": "application/json"})
                    return response.status_code

                return send

            def measure(path: str, seconds: float) -> Round:
                if wrk:
                    return wrk_round(wrk, script, base + path, args.connections, seconds)
                return Round.of(
                    run_load(
                        sender(path),
                        threads=args.connections,
                        seconds=seconds,
                        max_requests=args.max_requests,
                    )
                )

            cards = requests.post(
                f"{base}{PATIENT_VIEW}",
                data=payload,
                headers={"Content-Type": "application/json"},
                timeout=10,
            ).json()["cards"]
            client = "wrk -t1" if wrk else "Python threads (biased: the client shares the CPUs)"
            print(
                f"request: {len(payload) / 1024:.0f} KB, {len(grouped['labs'])} lab Observations, "
                f"{len(cards)} cards; gunicorn workers={args.workers}; client {client}, "
                f"{args.connections} connections; {args.rounds} rounds x {args.seconds:g} s; "
                f"server threads per worker {args.server_threads}; "
                f"{os.cpu_count()} CPUs; storage {database.split(':', 1)[0]}"
            )
            endpoints = {
                "bare endpoint (floor)": "/bench/empty",
                "patient-view, full prefetch": PATIENT_VIEW,
                "same, core answer replayed": NO_CORE + PATIENT_VIEW,
                "same, replayed, no storage": NO_CORE_NO_STORE + PATIENT_VIEW,
            }
            for path in endpoints.values():
                measure(path, 2.0)  # warm-up: connections, caches, the database file
            rounds: dict[str, list[Round]] = {label: [] for label in endpoints}
            for _ in range(args.rounds):
                for label, path in endpoints.items():
                    rounds[label].append(measure(path, args.seconds))
            throughputs = []
            for label, results in rounds.items():
                throughput, line = summarise(label, results)
                throughputs.append(throughput)
                print(line)
            floor, service, no_core, no_core_no_store = throughputs
            bare_rounds, service_rounds, *_ = rounds.values()
            per_round = [
                (s.requests / s.seconds) / (b.requests / b.seconds)
                for b, s in zip(bare_rounds, service_rounds, strict=True)
            ]
            print(
                f"throughput ratio patient-view / bare = {service / floor:.2f} (goal >= 0.5); "
                f"median of per-round ratios {statistics.median(per_round):.2f} "
                f"({' '.join(f'{r:.2f}' for r in per_round)})"
            )
            print(f"without the clinical core (answer replayed) / bare = {no_core / floor:.2f}")
            print(f"without the clinical core and the storage write / bare = {no_core_no_store / floor:.2f}")
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
