"""Run sekmet-fhir 0.1.1 as a child process: loopback only, simulator off, its own data directory.

    with SekmetServer(port=8090, data_dir=Path("var/sandbox/fhir")) as fhir:
        print(fhir.base_url)        # http://127.0.0.1:8090/fhir

The settings file is written into the data directory and the process runs with that
directory as its working directory, so nothing sekmet writes (database, keys, traffic
log) lands anywhere else. With the simulator on, sekmet would answer every
MedicationRequest with a simulated dispense about 2 s later; the sandbox and the
tests need the data to stay as loaded, so it is always off.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import requests
import yaml

SEKMET_VERSION = "0.1.1"


class FhirServerError(RuntimeError):
    """sekmet-fhir could not be started (not installed, port taken, or not ready in time)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop_process_group(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM the child's process group, then SIGKILL after `timeout_s`; a no-op once it has exited.

    The group, not the pid: the child runs in its own session (start_new_session) and may
    have children of its own that would otherwise outlive it.
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)


def sekmet_executable() -> str:
    """The `sekmet` script next to this interpreter (the venv), else on PATH."""
    candidate = Path(sys.executable).with_name("sekmet")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("sekmet")
    if not found:
        raise FhirServerError(
            f"sekmet-fhir is not installed: pip install 'sekmet-fhir=={SEKMET_VERSION}' "
            "(or the project's `sandbox` or `test` extra)"
        )
    return found


def sekmet_settings(port: int, data_dir: Path, *, log_traffic: bool = False) -> dict[str, object]:
    """sekmet's settings.yaml for a loopback server (smart-app-launch.md §3.1).

    `log_traffic` keeps sekmet's own traffic log (request/response bodies, shown in its web
    console at /ui); off, loading the synthetic patients takes half the time.
    """
    return {
        "base_url": f"http://127.0.0.1:{port}/fhir",
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(data_dir),
        "simulator": {"enabled": False},
        "own_private_key_path": str(data_dir / "keys" / "sekmet_private.pem"),
        "log_inbound": log_traffic,
    }


class SekmetServer:
    """A sekmet-fhir child process. `start()` returns once `/fhir/metadata` answers 200."""

    def __init__(
        self,
        port: int,
        data_dir: Path,
        *,
        startup_timeout_s: float = 30.0,
        log_file: Path | None = None,
        log_traffic: bool = False,
    ) -> None:
        self.port = port
        self.data_dir = Path(data_dir).resolve()
        self.startup_timeout_s = startup_timeout_s
        self.log_traffic = log_traffic
        self.log_file = log_file or self.data_dir / "sekmet.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def start(self) -> SekmetServer:
        """Start the process and wait until it is ready.

        :raise FhirServerError: sekmet is missing, the port is taken, the process exited,
            or it did not answer within `startup_timeout_s` (the message ends with its log).
        """
        if self.process is not None:
            return self
        if port_in_use(self.port):
            raise FhirServerError(f"port {self.port} on 127.0.0.1 is already in use")
        executable = sekmet_executable()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "settings.yaml"
        config.write_text(
            yaml.safe_dump(sekmet_settings(self.port, self.data_dir, log_traffic=self.log_traffic)),
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEKMET_")}
        env["SEKMET_CONFIG"] = str(config)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [executable, "serve", "-c", str(config), "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.data_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop it ourselves
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise FhirServerError(
                    f"sekmet exited with code {self.process.returncode} during start-up\n{self._log_tail()}"
                )
            with contextlib.suppress(requests.RequestException):
                response = requests.get(f"{self.base_url}/metadata", timeout=1.0)
                if response.status_code == 200:
                    return
            time.sleep(0.2)
        raise FhirServerError(
            f"sekmet was not ready on {self.base_url} after {self.startup_timeout_s:.0f} s\n"
            f"{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after `timeout_s`). Safe to call twice."""
        process, self.process = self.process, None
        if process is not None:
            stop_process_group(process, timeout_s)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> SekmetServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
