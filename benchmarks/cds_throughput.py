"""Throughput and latency of patient-view with a full prefetch, under gunicorn, vs a bare endpoint.

    .venv/bin/python benchmarks/cds_throughput.py [--seconds 10] [--threads 8] [--workers 2]

Starts gunicorn on 127.0.0.1 with the product app plus one benchmark-only route,
`POST /bench/empty`, that parses the same body and returns `{"cards": []}` (the
floor: web server + json.loads; performance.md). Both are driven side by side by a
closed-loop Python load generator (threads + requests) and the ratio of their
throughputs is printed (goal >= 0.5). Prints numbers; asserts nothing.

The request is a typical follow-up patient (synthetic `baricitinib_week12_lipids_due`)
with its lab history padded to 154 Observations, evaluated at the synthetic anchor date.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cds_common import ROOT, anchor, patient_view_body, run_load, salt_codes


def build_app():  # gunicorn factory: `cds_throughput:build_app()`
    """The product app (dev mode: the benchmark measures the service, not JWT checks) + /bench/empty."""
    from flask import Response, request

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

    @app.post("/bench/empty")
    def empty() -> Response:
        json.loads(request.get_data())
        return Response('{"cards":[]}', mimetype="application/json")

    return app


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-requests", type=int, default=20_000)
    args = parser.parse_args()

    import requests

    body, grouped = patient_view_body(salt_codes())
    payload = json.dumps(body).encode()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, CDS_BENCH_DB=f"sqlite:///{tmp}/bench.db", PROMETHEUS_MULTIPROC_DIR=tmp)
        env = {k: v for k, v in env.items() if not k.startswith("AA_JAK_")}
        gunicorn = Path(sys.executable).with_name("gunicorn")
        server = subprocess.Popen(
            [
                str(gunicorn),
                "-w",
                str(args.workers),
                "-b",
                f"127.0.0.1:{port}",
                "--chdir",
                str(ROOT / "benchmarks"),
                "--log-level",
                "warning",
                "cds_throughput:build_app()",
            ],
            env=env,
            cwd=ROOT,
        )
        try:
            _wait_ready(f"{base}/bench/empty", payload)
            _wait_ready(f"{base}/cds-services/aa-jak-patient-view", payload)
            sessions: dict[int, requests.Session] = {}

            def sender(path: str):
                url = base + path

                def send() -> int:
                    import threading

                    session = sessions.setdefault(threading.get_ident(), requests.Session())
                    response = session.post(url, data=payload, headers={"Content-Type": "application/json"})
                    return response.status_code

                return send

            cards = requests.post(
                f"{base}/cds-services/aa-jak-patient-view",
                data=payload,
                headers={"Content-Type": "application/json"},
                timeout=10,
            ).json()["cards"]
            print(
                f"request: {len(payload) / 1024:.0f} KB, {len(grouped['labs'])} lab Observations, "
                f"{len(cards)} cards; gunicorn workers={args.workers}, client threads={args.threads}, "
                f"{os.cpu_count()} CPUs"
            )
            results = {}
            for label, path in (
                ("bare endpoint (floor)", "/bench/empty"),
                ("patient-view, full prefetch", "/cds-services/aa-jak-patient-view"),
            ):
                run_load(sender(path), threads=args.threads, seconds=1.0, max_requests=200)  # warm-up
                results[label] = run_load(
                    sender(path), threads=args.threads, seconds=args.seconds, max_requests=args.max_requests
                )
                print(results[label].line(label))
            floor, service = results.values()
            ratio = service.throughput / floor.throughput
            print(f"throughput ratio patient-view / bare = {ratio:.2f} (goal >= 0.5)")
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
