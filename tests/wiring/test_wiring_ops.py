"""/healthz, /readyz and /metrics, on a bare app (ops only) and on the full product app."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask

import storage
from aa_jak import observability


@pytest.fixture
def ops_client():
    app = Flask(__name__)
    observability.init_app(app)

    @app.get("/items/<item_id>")
    def item(item_id: str) -> str:
        return item_id

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    return app.test_client()


def test_healthz_answers_while_the_process_is_up(ops_client):
    response = ops_client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


class FakeStorage:
    def __init__(self, ping):
        self.ping = ping


def test_readyz_is_200_when_storage_answers(ops_client, monkeypatch):
    monkeypatch.setattr(storage, "get_storage", lambda: FakeStorage(lambda: True))
    response = ops_client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"storage": "up"}


@pytest.mark.parametrize("failure", ["returns-false", "raises"])
def test_readyz_is_503_when_storage_is_down(ops_client, monkeypatch, failure):
    def ping() -> bool:
        if failure == "raises":
            raise ConnectionError("database unreachable at postgresql://user:pw@db")
        return False

    monkeypatch.setattr(storage, "get_storage", lambda: FakeStorage(ping))
    response = ops_client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "checks": {"storage": "down"}}
    assert "postgresql" not in response.get_data(as_text=True)


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            label_text = line[len(name) + 1 : line.index("}")]
            if ",".join(sorted(label_text.split(","))) == wanted:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_counts_requests_per_route_template_and_status(ops_client):
    before = _sample(
        ops_client.get("/metrics").get_data(as_text=True),
        "aa_jak_http_requests_total",
        endpoint="/items/<item_id>",
        method="GET",
        status="200",
    )
    ops_client.get("/items/1")
    ops_client.get("/items/2?secret=x")
    text = ops_client.get("/metrics").get_data(as_text=True)
    after = _sample(
        text, "aa_jak_http_requests_total", endpoint="/items/<item_id>", method="GET", status="200"
    )
    assert after == before + 2
    assert "aa_jak_http_request_duration_seconds_bucket" in text
    assert "/items/1" not in text  # route templates, not raw paths


def test_metrics_counts_unmatched_and_failed_requests(ops_client):
    ops_client.get("/no/such/page")
    ops_client.get("/boom")
    text = ops_client.get("/metrics").get_data(as_text=True)
    assert (
        _sample(text, "aa_jak_http_requests_total", endpoint="<unmatched>", method="GET", status="404") >= 1
    )
    assert _sample(text, "aa_jak_http_requests_total", endpoint="/boom", method="GET", status="500") >= 1


def test_metrics_is_prometheus_text(ops_client):
    response = ops_client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "# TYPE aa_jak_http_requests_total counter" in response.get_data(as_text=True)


def test_request_log_line_has_path_without_query_string(ops_client, caplog):
    caplog.set_level(logging.INFO, logger="aa_jak.request")
    ops_client.get("/items/7?code=authcode&state=s")
    (record,) = [r for r in caplog.records if r.name == "aa_jak.request"]
    assert record.path == "/items/7"
    assert record.status == 200
    assert record.endpoint == "/items/<item_id>"
    assert "authcode" not in repr(vars(record))


def test_request_id_is_echoed_or_generated(ops_client):
    assert (
        ops_client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    )
    generated = ops_client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers[
        "X-Request-ID"
    ]
    assert len(generated) == 32


def test_product_app_serves_the_ops_endpoints(app_factory):
    client = app_factory().test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert "aa_jak_http_requests_total" in client.get("/metrics").get_data(as_text=True)


def test_product_app_logs_the_dev_mode_warning(app_factory, caplog):
    caplog.set_level(logging.WARNING, logger="aa_jak")
    app_factory(dev_mode=True)
    assert any("DEVELOPMENT MODE" in r.getMessage() for r in caplog.records)


# --- /metrics protection (setting metrics_token) ----------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic metrics-token-1234"}],
    ids=["no-header", "wrong-token", "not-bearer"],
)
def test_metrics_with_a_token_set_refuses_other_callers_without_detail(app_factory, headers):
    client = app_factory(metrics_token="metrics-token-1234").test_client()
    refused = client.get("/metrics", headers=headers)
    assert refused.status_code == 401
    assert refused.get_data() == b""
    assert refused.headers["WWW-Authenticate"] == "Bearer"


def test_metrics_with_a_token_set_answers_the_right_bearer_token(app_factory):
    client = app_factory(metrics_token="metrics-token-1234").test_client()
    allowed = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-1234"})
    assert allowed.status_code == 200
    assert "aa_jak_http_requests_total" in allowed.get_data(as_text=True)


def test_metrics_token_protects_only_metrics(app_factory):
    client = app_factory(metrics_token="metrics-token-1234").test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/cds-services").status_code == 200


def test_open_metrics_outside_dev_mode_is_warned_about_once_at_start(app_factory, caplog):
    caplog.set_level(logging.WARNING, logger="aa_jak")
    client = app_factory(dev_mode=False).test_client()
    assert client.get("/metrics").status_code == 200
    warnings = [r.getMessage() for r in caplog.records if "/metrics is open" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize(
    "overrides", [{"dev_mode": True}, {"dev_mode": False, "metrics_token": "t0ken-t0ken"}]
)
def test_no_open_metrics_warning_in_dev_mode_or_with_a_token(app_factory, caplog, overrides):
    caplog.set_level(logging.WARNING, logger="aa_jak")
    app_factory(**overrides)
    assert not any("/metrics is open" in r.getMessage() for r in caplog.records)


def test_metrics_token_never_reaches_the_log(app_factory, caplog):
    caplog.set_level(logging.DEBUG)
    client = app_factory(metrics_token="metrics-token-1234", log_level="DEBUG").test_client()
    client.get("/metrics", headers={"Authorization": "Bearer metrics-token-1234"})
    client.get("/metrics", headers={"Authorization": "Bearer metrics-token-1234x"})
    assert "metrics-token-1234" not in caplog.text


def test_root_links_to_what_an_integrator_looks_for_and_each_link_answers(tmp_path):
    from aa_jak.app import create_app
    from aa_jak.settings import Settings

    settings = Settings(dev_mode=True, database_url=f"sqlite:///{tmp_path}/aa-jak.db")
    client = create_app(settings).test_client()
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    links = re.findall(r'href="([^"]+)"', r.get_data(as_text=True))
    assert {"/cds-services", "/cds-services/openapi.json", "/docs/findings", "/app/standalone"} <= set(links)
    for link in links:
        assert client.get(link).status_code == 200, link
