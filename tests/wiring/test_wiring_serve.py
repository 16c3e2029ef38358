"""`aa-jak serve`: the gunicorn application, and a bounded real run."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from aa_jak import cli
from sandbox.fhir_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_build_server_configures_gunicorn_without_starting_it():
    server = cli.build_server("127.0.0.1", 8123, 3, threads=2, app_factory=lambda: "the-app")
    assert server.cfg.bind == ["127.0.0.1:8123"]
    assert server.cfg.workers == 3
    assert server.cfg.threads == 2
    assert server.cfg.worker_class_str == "gthread"
    assert server.cfg.accesslog is None
    assert server.load() == "the-app"  # what each worker serves


def test_threaded_server_closes_connections_after_each_response():
    # Measured (benchmarks/README.md): gthread keep-alive made CDS calls at saturation 1.4x slower.
    server = cli.build_server("127.0.0.1", 8123, 2, threads=4, app_factory=lambda: "the-app")
    assert server.cfg.keepalive == 0


def test_worker_freezes_the_loaded_app_out_of_garbage_collection():
    # Measured (benchmarks/README.md): full collections rescanning the app cost CDS calls ~15%.
    server = cli.build_server("127.0.0.1", 8123, 2, app_factory=lambda: "the-app")
    gc.unfreeze()
    try:
        server.cfg.post_worker_init(None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_one_thread_per_worker_runs_sync_workers():
    server = cli.build_server("127.0.0.1", 8123, 2, threads=1, app_factory=lambda: "the-app")
    assert server.cfg.worker_class_str == "sync"


def test_default_server_serves_create_app(app_factory, monkeypatch):
    # app_factory's fixture cleaned the environment; dev mode lets create_app run without a secret
    monkeypatch.setenv("AA_JAK_DEV_MODE", "true")
    monkeypatch.setenv("AA_JAK_DATABASE_URL", "sqlite://")
    server = cli.build_server("127.0.0.1", 8123, 1)
    app = server.load()
    assert app.test_client().get("/healthz").status_code == 200


def test_serve_refuses_to_start_without_a_secret_outside_dev_mode(clean_env, capsys):
    assert cli.main(["serve", "--port", str(free_port())]) == 2
    assert "secret key" in capsys.readouterr().err


def test_serve_reports_a_configuration_error_before_starting(clean_env, capsys):
    clean_env.setenv("AA_JAK_NOT_A_SETTING", "1")
    assert cli.main(["serve", "--dev"]) == 2
    assert "AA_JAK_NOT_A_SETTING" in capsys.readouterr().err


@pytest.mark.integration
def test_serve_dev_runs_two_workers_with_shared_metrics_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AA_JAK_", "PROMETHEUS_"))}
    env["AA_JAK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'serve.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "aa_jak.cli", "serve", "--port", str(port), "--workers", "2", "--dev"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        for _ in range(10):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        counts = [
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("aa_jak_http_requests_total{") and 'endpoint="/healthz"' in line
        ]
        assert sum(counts) >= 11  # every worker's requests, not just the scraped worker's
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            output = process.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate()[0].decode()
    assert process.returncode == 0
    assert "DEVELOPMENT MODE" in output


def test_serve_refuses_plain_http_settings_outside_dev_mode_before_starting(clean_env, capsys):
    clean_env.setenv("AA_JAK_SECRET_KEY", "a-secret-key-for-this-test-only")
    clean_env.setenv(
        "AA_JAK_SMART_CLIENTS",
        '[{"iss": "http://ehr.example.org/fhir", "client_id": "app", "client_type": "public"}]',
    )
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "smart_clients[0].iss" in err and "http://ehr.example.org/fhir" in err
