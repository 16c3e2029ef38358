"""The README's start command for real: `aa-jak sandbox` as a subprocess, driven over HTTP.

Starts the command on free ports in a temporary working directory (the runner writes
`./var/sandbox` relative to it), waits for the EHR simulator and the product, walks the
newcomer's path (patients, cards, discovery, app launch to the dashboard), then presses
Ctrl-C (SIGINT to the command's process group, as a terminal does) and checks that every
process the command started is gone. Whatever happens, the process group and every
descendant seen are killed in `finally`. The tests that only use the sandbox (a scenario's
draft order signed in one click, the banner's feedback-report command, a standalone launch
through the patient picker) share one, started once for the module.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import requests

from sandbox.fhir_server import free_port, sekmet_executable

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
# An AA patient whose cards are certain (interrupt baricitinib: ALC 400/mm3).
BUNDLE = "baricitinib_alc_400_interrupt"
SYNTHETIC_SYSTEM = "urn:aa-jak:synthetic-patient"


def browse(session: requests.Session, method: str, url: str, max_hops: int = 10) -> list[requests.Response]:
    """Follow redirects the way a browser on 127.0.0.1 does; returns every response, the last one last.

    The product sets `Secure; SameSite=None` cookies (the app runs in an EHR iframe over https).
    Browsers treat http://127.0.0.1 as a secure context and send them back; requests does not
    (and a cookie policy set on the session is lost on the jar it builds for each request), so
    the jar's cookies are marked non-secure between hops.
    """
    responses = []
    for _ in range(max_hops):
        response = session.request(method, url, allow_redirects=False, timeout=30)
        responses.append(response)
        for cookie in session.cookies:
            cookie.secure = False
        if not response.is_redirect:
            return responses
        url = urljoin(response.url, response.headers["Location"])
        method = "GET"
    raise AssertionError(f"more than {max_hops} redirects: {[r.url for r in responses]}")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in _children(stack.pop()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie whose parent has not reaped it yet counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return "?"


def _wait_ok(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"`aa-jak sandbox` exited with {process.returncode} before {url} answered")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer 200 within {START_TIMEOUT_S:.0f} s")


def _output(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-6000:]
    return ""


@contextlib.contextmanager
def _started(tmp_path: Path) -> Iterator[dict[str, Any]]:
    try:
        sekmet_executable()
    except Exception as exc:
        pytest.skip(f"sekmet-fhir is not available: {exc}")
    ports = {"fhir": free_port(), "sandbox": free_port(), "product": free_port()}
    while len(set(ports.values())) < 3:
        ports["product"] = free_port()
    workdir = tmp_path / "work"
    workdir.mkdir()
    log = tmp_path / "sandbox.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AA_JAK_")}
    # The working tree, whatever the editable install's finder says (see tests/conftest.py).
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    command = [
        sys.executable,
        "-m",
        "aa_jak.cli",
        "sandbox",
        "--fhir-port",
        str(ports["fhir"]),
        "--sandbox-port",
        str(ports["sandbox"]),
        "--port",
        str(ports["product"]),
    ]
    seen: set[int] = set()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGINT to it is a terminal's Ctrl-C
        )
    info: dict[str, Any] = {
        "process": process,
        "workdir": workdir,
        "log": log,
        "seen": seen,
        "fhir": f"http://127.0.0.1:{ports['fhir']}/fhir",
        "sandbox": f"http://127.0.0.1:{ports['sandbox']}",
        "product": f"http://127.0.0.1:{ports['product']}",
    }
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            _wait_ok(f"{info['sandbox']}/", process, deadline)
            _wait_ok(f"{info['product']}/healthz", process, deadline)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- output ---\n{_output(log)}") from None
        seen.update(descendants(process.pid))
        yield info
    finally:
        seen.update(descendants(process.pid))
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        for pid in seen:  # the children run in their own sessions: kill them one by one, by id
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A sandbox of the test's own, which the test may stop."""
    with _started(tmp_path) as info:
        yield info


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One sandbox for the tests that only use it: each start costs seconds."""
    with _started(tmp_path_factory.mktemp("shared")) as info:
        yield info


def _patient_id(fhir: str, scenario: str = BUNDLE) -> str:
    bundle = requests.get(
        f"{fhir}/Patient", params={"identifier": f"{SYNTHETIC_SYSTEM}|{scenario}"}, timeout=10
    ).json()
    (entry,) = bundle.get("entry", [])
    return str(entry["resource"]["id"])


def _display_name(patient: dict[str, Any]) -> str:
    name = patient["name"][0]
    return name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()


def test_sandbox_command_end_to_end_and_ctrl_c_stops_everything(sandbox: dict[str, Any]) -> None:
    process: subprocess.Popen[bytes] = sandbox["process"]
    sandbox_base, product, fhir = sandbox["sandbox"], sandbox["product"], sandbox["fhir"]

    # The runner's files land under the working directory it was started in.
    var = sandbox["workdir"] / "var" / "sandbox"
    assert (var / "aa-jak.yaml").is_file(), sorted(p.name for p in sandbox["workdir"].rglob("*"))
    assert (var / "fhir").is_dir()

    # 1. The EHR page lists the synthetic patients.
    patient_id = _patient_id(fhir)
    patient = requests.get(f"{fhir}/Patient/{patient_id}", timeout=10).json()
    name = _display_name(patient)
    index = requests.get(f"{sandbox_base}/", timeout=15)
    assert index.status_code == 200
    links = re.findall(r'href="/patients/([^"]+)"', index.text)
    assert len(links) >= 50, f"the EHR lists {len(links)} patients"
    assert patient_id in links
    assert html.escape(name) in index.text

    # 2. Cards for that patient through the EHR simulator (signed JWT, prefetch filled by the EHR).
    page = requests.post(f"{sandbox_base}/patients/{patient_id}/patient-view", timeout=60)
    assert page.status_code == 200, page.text[:2000]
    assert 'class="error"' not in page.text, page.text[:4000]
    summaries = re.findall(
        r'<div class="card [a-z]+">\s*<div class="indicator">[a-z]+</div>\s*<strong>([^<]+)</strong>',
        page.text,
    )
    assert summaries, "no card rendered:\n" + page.text[-4000:]
    assert "&rarr; 200" in page.text

    # 3. Discovery answers (dev mode: without a JWT).
    discovery = requests.get(f"{product}/cds-services", timeout=10)
    assert discovery.status_code == 200, discovery.text
    services = discovery.json()["services"]
    assert {s["hook"] for s in services} >= {"patient-view", "order-sign"}

    # 4. "Launch app" from the EHR page: EHR launch -> SMART authorize -> callback -> dashboard.
    with requests.Session() as browser:
        *history, launched = browse(browser, "POST", f"{sandbox_base}/patients/{patient_id}/launch")
    hops = [urlsplit(r.url)._replace(query="").geturl() for r in history]
    assert launched.status_code == 200, (hops, launched.status_code, launched.text[-3000:])
    assert f"{product}/app/launch" in hops
    assert f"{sandbox_base}/auth/authorize" in hops
    assert f"{product}/app/callback" in hops
    assert re.fullmatch(rf"{re.escape(product)}/app/c/[^/]+/", launched.url), launched.url
    assert html.escape(name) in launched.text, launched.text[:3000]
    assert patient["birthDate"] in launched.text

    # 5. Ctrl-C: the command and everything it started exit, in bounded time.
    seen: set[int] = sandbox["seen"]
    seen.update(descendants(process.pid))
    assert len(seen) >= 2, f"expected sekmet and the product as children, saw {seen}"
    commands = {pid: _cmdline(pid) for pid in seen}
    assert any("sekmet" in c for c in commands.values()), commands
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    try:
        code = process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"`aa-jak sandbox` still running {STOP_TIMEOUT_S:.0f} s after SIGINT\n{_output(sandbox['log'])}"
        )
    assert code == 0, _output(sandbox["log"])
    deadline = started + STOP_TIMEOUT_S
    while time.monotonic() < deadline and any(_alive(pid) for pid in seen):
        time.sleep(0.2)
    left = {pid: commands[pid] for pid in seen if _alive(pid)}
    assert not left, f"orphaned after SIGINT: {left}"
    assert "Stopping" in _output(sandbox["log"])


CARD_SUMMARY = re.compile(
    r'<div class="card ([a-z]+)">\s*<div class="indicator">[a-z]+</div>\s*<strong>([^<]+)</strong>'
)


def test_one_click_signs_a_scenarios_draft_order_and_shows_its_hard_stop(
    shared_sandbox: dict[str, Any],
) -> None:
    """The scenario list says "Hard stop"; that result needs the draft order, so only order-sign shows it."""
    sandbox_base = shared_sandbox["sandbox"]
    patient_id = _patient_id(shared_sandbox["fhir"], "adolescent_14y_baricitinib_proposed")
    chart = requests.get(f"{sandbox_base}/patients/{patient_id}", timeout=15).text
    assert "This scenario's result appears at <strong>order-sign</strong>" in chart
    assert 'name="drafts" value="on-file"' in chart

    page = requests.post(
        f"{sandbox_base}/patients/{patient_id}/order-sign", data={"drafts": "on-file"}, timeout=60
    )
    assert page.status_code == 200, page.text[:2000]
    assert "Cards (order-sign)" in page.text
    cards = [(indicator, html.unescape(summary)) for indicator, summary in CARD_SUMMARY.findall(page.text)]
    assert any(
        indicator == "critical" and "below the minimum" in summary and "baricitinib" in summary
        for indicator, summary in cards
    ), cards


def _banner_line(log: Path, label: str) -> str:
    """The banner is printed once the product answers: wait for it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.search(rf"^  {re.escape(label)}\s+(.+)$", log.read_text(errors="replace"), re.MULTILINE)
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no '{label}' in the banner:\n{_output(log)}")


def test_the_banners_feedback_report_command_reports_the_sandboxs_feedback(
    shared_sandbox: dict[str, Any],
) -> None:
    command = _banner_line(shared_sandbox["log"], "Cards and feedback so far:")
    aa_jak = Path(sys.executable).parent / "aa-jak"
    assert command == f"AA_JAK_CONFIG_FILE=var/sandbox/aa-jak.yaml {aa_jak} feedback-report"

    sandbox_base = shared_sandbox["sandbox"]
    patient_id = _patient_id(shared_sandbox["fhir"])
    page = requests.post(f"{sandbox_base}/patients/{patient_id}/patient-view", timeout=60).text
    service_id = re.search(r'name="service_id" value="([^"]+)"', page)
    card_uuid = re.search(r'name="card_uuid" value="([^"]+)"', page)
    assert service_id and card_uuid, page[-4000:]
    dismissed = requests.post(
        f"{sandbox_base}/feedback",
        data={"service_id": service_id.group(1), "card_uuid": card_uuid.group(1), "outcome": "overridden"},
        headers={"Accept": "application/json"},
        timeout=15,
    )
    assert dismissed.json()["status"] == 200, dismissed.text

    # As typed in the directory the sandbox was started in, the venv not on PATH (as ./dev.sh runs it).
    env = {k: v for k, v in os.environ.items() if not k.startswith("AA_JAK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    report = subprocess.run(
        ["bash", "-c", command],
        cwd=shared_sandbox["workdir"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    assert "No CDS cards" not in report.stdout
    overridden = [int(row[3]) for row in re.findall(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s", report.stdout, re.M)]
    assert sum(overridden) >= 1, report.stdout


def test_a_standalone_launch_asks_which_patient_to_open_and_opens_that_one(
    shared_sandbox: dict[str, Any],
) -> None:
    sandbox_base, product, fhir = shared_sandbox["sandbox"], shared_sandbox["product"], shared_sandbox["fhir"]
    patient_id = _patient_id(fhir)
    patient = requests.get(f"{fhir}/Patient/{patient_id}", timeout=10).json()
    with requests.Session() as browser:
        *_, picker = browse(browser, "GET", f"{product}/app/standalone?iss={sandbox_base}/fhir")
        assert urlsplit(picker.url).path == "/auth/authorize", picker.url
        assert "Choose a patient" in picker.text
        assert f'name="patient" value="{patient_id}"' in picker.text
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', picker.text))
        choice = urlencode({**{k: html.unescape(v) for k, v in fields.items()}, "patient": patient_id})
        *_, dashboard = browse(browser, "GET", f"{sandbox_base}/auth/authorize?{choice}")
    assert re.fullmatch(rf"{re.escape(product)}/app/c/[^/]+/", dashboard.url), dashboard.url
    assert html.escape(_display_name(patient)) in dashboard.text
    assert patient["birthDate"] in dashboard.text
