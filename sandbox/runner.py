"""`aa-jak sandbox`: the one command that starts everything for a newcomer.

1. sekmet-fhir on 127.0.0.1:<fhir_port>, simulator off, a fresh data dir under ./var/sandbox/;
2. the synthetic patients, re-anchored to today;
3. the sandbox app on 127.0.0.1:<sandbox_port>: the development SMART server
   (`/fhir` proxy, `/auth/...`) and the EHR simulator (`/`, `/.well-known/jwks.json`);
4. the product (`aa-jak serve --dev`) on 127.0.0.1:<port>, configured to trust the sandbox:
   a SMART client for `{sandbox}/fhir`, and the sandbox EHR's signing key as a CDS issuer.

Ctrl-C (or SIGTERM) stops the children in reverse order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any

import requests
import yaml
from werkzeug.serving import BaseWSGIServer, make_server

from sandbox.fhir_server import FhirServerError, SekmetServer, port_in_use, stop_process_group

SANDBOX_CLIENT_ID = "aa-jak-sandbox"


@dataclass(frozen=True)
class SandboxPorts:
    fhir: int = 8090
    sandbox: int = 8091
    product: int = 8000

    @property
    def fhir_base(self) -> str:
        return f"http://127.0.0.1:{self.fhir}/fhir"

    @property
    def sandbox_base(self) -> str:
        return f"http://127.0.0.1:{self.sandbox}"

    @property
    def product_base(self) -> str:
        return f"http://127.0.0.1:{self.product}"


def product_settings(ports: SandboxPorts, var_dir: Path, jwks_file: Path) -> dict[str, Any]:
    """The product's settings file for the sandbox (dev mode; trusts only this sandbox)."""
    return {
        "dev_mode": True,
        "public_base_url": ports.product_base,
        "database_url": f"sqlite:///{(var_dir / 'aa-jak.db').resolve()}",
        "secret_key": secrets.token_urlsafe(48),
        "cds_trusted_issuers": [
            {
                "iss": ports.sandbox_base,
                "jwks_file": str(jwks_file.resolve()),
                "allowed_jku": [f"{ports.sandbox_base}/.well-known/jwks.json"],
                "fhir_servers": [ports.fhir_base, f"{ports.sandbox_base}/fhir"],
            }
        ],
        "cds_cors_origins": [ports.sandbox_base],
        "smart_clients": [
            {
                "iss": f"{ports.sandbox_base}/fhir",
                "client_id": SANDBOX_CLIENT_ID,
                "client_type": "public",
                "standalone": True,
            }
        ],
    }


def create_sandbox_app(ports: SandboxPorts, signing_key: Any) -> Any:
    """The development SMART server with the EHR simulator mounted on it."""
    from sandbox import ehr
    from sandbox.smart_server import create_smart_server

    app = create_smart_server(
        ports.fhir_base,
        ports.sandbox_base,
        auto_approve=True,
        clients=[
            {
                "client_id": SANDBOX_CLIENT_ID,
                "redirect_uris": [f"{ports.product_base}/app/callback"],
            }
        ],
    )
    ehr.init_app(
        app,
        ehr.EhrConfig(
            fhir_upstream=ports.fhir_base,
            public_base=ports.sandbox_base,
            product_base=ports.product_base,
            signing_key=signing_key,
        ),
    )
    return app


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def wait_http_ok(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {process.returncode}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")


def banner(ports: SandboxPorts, config_file: Path, aa_jak: Path | None = None) -> str:
    """What a newcomer needs once everything is up: where to start, and how to see what happened.

    `aa-jak feedback-report` reads the default database unless pointed at the sandbox's settings.
    `aa_jak` is the command itself, by default the one beside this Python (`.venv/bin/aa-jak`:
    `./dev.sh` does not put the venv on PATH).
    """
    command = _as_typed(aa_jak or Path(sys.executable).parent / "aa-jak")
    return (
        "\n"
        "aa-jak sandbox is running (synthetic data only; DEVELOPMENT MODE)\n"
        f"  EHR simulator (start here): {ports.sandbox_base}/\n"
        f"  Product CDS discovery:      {ports.product_base}/cds-services\n"
        f"  Product SMART launch URL:   {ports.product_base}/app/launch\n"
        f"  FHIR via SMART server:      {ports.sandbox_base}/fhir  (iss for EHR launches)\n"
        f"  FHIR server (open):         {ports.fhir_base}  (sekmet console: {ports.fhir_base[:-5]}/ui)\n"
        f"  Product settings file:      {config_file}\n"
        "  Cards and feedback so far:  "
        f"AA_JAK_CONFIG_FILE={_as_typed(config_file)} {command} feedback-report\n"
        "Press Ctrl-C to stop.\n"
    )


def _as_typed(path: Path) -> Path:
    """`path` relative to the working directory when it lies under it (as a newcomer would type it)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def run_sandbox(
    ports: SandboxPorts, *, var_root: Path = Path("var/sandbox"), as_of: date | None = None
) -> int:
    """Start everything, print the URLs, block until Ctrl-C, stop everything. Returns an exit code."""
    from aa_jak.logs import configure_logging
    from sandbox.keys import SigningKey
    from sandbox.loader import LoadError, bundle_paths, load_patients

    configure_logging("INFO")  # JSON, redacted: the sandbox's request lines lose their query strings
    logging.getLogger("werkzeug").setLevel(logging.INFO)

    for name, port in (
        ("--fhir-port", ports.fhir),
        ("--sandbox-port", ports.sandbox),
        ("--port", ports.product),
    ):
        if port_in_use(port):
            print(f"Port {port} ({name}) on 127.0.0.1 is in use; pick another with {name}.", file=sys.stderr)
            return 2

    var_root = var_root.resolve()
    fhir_dir = var_root / "fhir"
    shutil.rmtree(fhir_dir, ignore_errors=True)  # a fresh FHIR database on every start
    var_root.mkdir(parents=True, exist_ok=True)

    previous = signal.signal(signal.SIGTERM, _raise_stop)
    fhir = SekmetServer(ports.fhir, fhir_dir, log_traffic=True)  # visible in sekmet's console /ui
    product: subprocess.Popen[bytes] | None = None
    server: BaseWSGIServer | None = None
    try:
        print(f"Starting sekmet-fhir on {ports.fhir_base} ...", flush=True)
        try:
            fhir.start()
        except FhirServerError as exc:
            print(f"Could not start sekmet-fhir: {exc}", file=sys.stderr)
            return 1
        anchor = as_of or date.today()
        loaded = load_patients(ports.fhir_base, as_of=anchor)
        print(
            f"Loaded {len(loaded)} synthetic patients (of {len(bundle_paths())} bundles), "
            f"dates anchored to {anchor}"
        )

        signing_key = SigningKey.generate()
        jwks_file = signing_key.write_jwks(var_root / "ehr-jwks.json")
        config_file = var_root / "aa-jak.yaml"
        config_file.write_text(yaml.safe_dump(product_settings(ports, var_root, jwks_file)), encoding="utf-8")
        config_file.chmod(0o600)

        app = create_sandbox_app(ports, signing_key)
        server = make_server("127.0.0.1", ports.sandbox, app, threaded=True)
        threading.Thread(target=server.serve_forever, name="sandbox-app", daemon=True).start()

        env = {k: v for k, v in os.environ.items() if not k.startswith("AA_JAK_")}
        env["AA_JAK_CONFIG_FILE"] = str(config_file)
        product = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aa_jak.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports.product),
                "--workers",
                "1",
                "--dev",
            ],
            env=env,
            start_new_session=True,
        )
        wait_http_ok(f"{ports.product_base}/healthz", 60.0, product)

        print(banner(ports, config_file), flush=True)
        while product.poll() is None:
            time.sleep(0.5)
        print(f"The product exited with code {product.returncode}; stopping.", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Stop):
        print("\nStopping ...", flush=True)
        return 0
    except (RuntimeError, LoadError, OSError) as exc:
        print(f"aa-jak sandbox: {exc}\nStopping ...", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        if product is not None:
            stop_process_group(product, timeout_s=15.0)
        if server is not None:
            server.shutdown()
        fhir.stop()
