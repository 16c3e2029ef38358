"""Latency of patient-view when every prefetch key is missing and the service queries the FHIR server.

    .venv/bin/python benchmarks/cds_fallback_latency.py [--delay-ms 100] [--repeat 20]

A local FHIR stub on 127.0.0.1 answers every request after `--delay-ms`. The service
(in process, dev mode so a plain-http FHIR server is allowed) gets a patient-view
request with no prefetch and a `fhirServer`; it must run its eight template queries in
parallel, so its latency should stay near one FHIR round trip. Printed: one stub
request, the fallback call, and their ratio (goal <= 2). Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cds_common import anchor, patient_view_body, salt_codes, searchset

TYPE_KEYS = {
    "Condition": "conditions",
    "MedicationRequest": "medicationRequests",
    "MedicationStatement": "medicationStatements",
    "Immunization": "immunizations",
    "Procedure": "procedures",
}


def make_stub(grouped: dict[str, list[dict[str, Any]]], delay_s: float) -> type[BaseHTTPRequestHandler]:
    patient = grouped["patient"][0]

    class Stub(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            time.sleep(delay_s)
            parts = urlsplit(self.path)
            segments = [s for s in parts.path.split("/") if s][1:]  # drop "fhir"
            if segments == ["Patient", patient["id"]]:
                body: Any = patient
            elif len(segments) == 1 and segments[0] in TYPE_KEYS:
                body = searchset(grouped[TYPE_KEYS[segments[0]]])
            elif segments == ["Observation"]:
                codes = parse_qs(parts.query).get("code", [""])[0]
                body = searchset(grouped["salt" if "SALT" in codes else "labs"])
            else:
                body = {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "not-found"}],
                }
            data = json.dumps(body).encode()
            self.send_response(200 if body.get("resourceType") != "OperationOutcome" else 404)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    return Stub


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=100.0)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import requests

    from aa_jak.app import create_app
    from aa_jak.settings import Settings

    codes = salt_codes()
    _, grouped = patient_view_body(codes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_stub(grouped, args.delay_ms / 1000))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = create_app(
                Settings(
                    dev_mode=True,
                    secret_key="benchmark-secret-key-not-for-production",  # noqa: S106
                    database_url=f"sqlite:///{tmp}/bench.db",
                    frozen_today=anchor().isoformat(),
                    log_level="WARNING",
                )
            )
            client = app.test_client()
            session = requests.Session()
            single, fallback = [], []
            for i in range(args.repeat + 2):
                started = time.perf_counter()
                session.get(f"{base}/Condition?patient=x", timeout=10).raise_for_status()
                one = (time.perf_counter() - started) * 1000
                body, _ = patient_view_body(codes, with_prefetch=False, fhir_server=base)
                started = time.perf_counter()
                response = client.post("/cds-services/aa-jak-patient-view", json=body)
                response.close()
                whole = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"service answered {response.status_code}: {response.get_json()}")
                if i >= 2:  # warm-up: connection pools, imports
                    single.append(one)
                    fallback.append(whole)
            cards = len(response.get_json()["cards"])
            p50_one, p50_all = statistics.median(single), statistics.median(fallback)
            print(
                f"stub delay {args.delay_ms:.0f} ms per request; fallback = 8 template queries; {cards} cards"
            )
            print(f"one FHIR request       p50 {p50_one:7.1f} ms  max {max(single):7.1f} ms")
            print(f"patient-view fallback  p50 {p50_all:7.1f} ms  max {max(fallback):7.1f} ms")
            print(f"ratio fallback / one request = {p50_all / p50_one:.2f} (goal <= 2)")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
