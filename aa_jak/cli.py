"""The `aa-jak` command line.

    aa-jak serve --host H --port P --workers N [--dev]   the product under gunicorn
    aa-jak sandbox                                       FHIR + patients + SMART/EHR simulator + product
    aa-jak load-patients --fhir URL [--as-of DATE]       synthetic patients into a FHIR server
    aa-jak assess BUNDLE.json [--as-of DATE] [--json]    findings for one patient bundle
    aa-jak feedback-report                               what clinicians did with the cards
    aa-jak db upgrade | current | sql [--from REV]      the database schema: upgrade, revision, SQL
    aa-jak check-knowledge                               validate the knowledge file

Imports are lazy: `serve` must set PROMETHEUS_MULTIPROC_DIR before prometheus_client is
first imported, and `assess` should not pay for Flask.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import date
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aa_jak.settings import Settings
    from storage.migrate import SchemaStatus


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _port(value: str) -> int:
    port = int(value)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {value}")
    return port


# --- serve --------------------------------------------------------------------------------


def _prepare_metrics_dir() -> None:
    """Multi-process Prometheus metrics for gunicorn workers (see aa_jak.observability)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # values from a previous run would be added to ours
            stale.unlink()
        return
    path = Path(tempfile.mkdtemp(prefix="aa-jak-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    import atexit

    atexit.register(shutil.rmtree, path, True)


def _child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: drop a dead worker's live gauges from the multi-process metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def _post_worker_init(worker: Any) -> None:
    """gunicorn hook: the app is loaded; its objects live as long as the worker, so the collector
    need not scan them again on every full collection (each CDS call allocates thousands). Loading's
    own garbage is collected first, or freezing would keep it for the worker's lifetime."""
    gc.collect()
    gc.freeze()


def build_server(
    host: str,
    port: int,
    workers: int,
    *,
    threads: int = 4,
    timeout: int = 30,
    app_factory: Callable[[], Any] | None = None,
) -> Any:
    """A gunicorn application serving `create_app()` (built in each worker, after the fork)."""
    from gunicorn.app.base import BaseApplication

    from aa_jak.logs import gunicorn_logconfig

    level = os.environ.get("AA_JAK_LOG_LEVEL", "INFO")
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # Threads let a worker wait on FHIR servers (CDS fallback queries, app pages) while it serves
        # other requests; one thread per worker is the sync worker, the fastest for CPU-bound CDS calls
        # (benchmarks/README.md).
        "worker_class": "gthread" if threads > 1 else "sync",
        # Measured: a gthread worker that keeps connections open hands each next request on a busy
        # worker's connection through its poller, which waits for the GIL behind the request threads:
        # patient-view at saturation ran 1.4x slower with p95 4-6x worse than closing them.
        "keepalive": 0,
        "timeout": timeout,
        "graceful_timeout": 20,
        "accesslog": None,  # our request log line replaces it (and never has query strings)
        "logconfig_dict": gunicorn_logconfig(level),
        "child_exit": _child_exit,
        "post_worker_init": _post_worker_init,
        "proc_name": "aa-jak",
        "control_socket_disable": True,  # gunicorn >= 24 would otherwise open ~/.gunicorn/gunicorn.ctl
    }

    def default_factory() -> Any:
        from aa_jak.app import create_app

        return create_app()

    factory = app_factory or default_factory

    class AaJakGunicorn(BaseApplication):
        def __init__(self) -> None:
            self.options = options
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return factory()

    return AaJakGunicorn()


def cmd_serve(args: argparse.Namespace) -> int:
    """Upgrades the database schema before the workers start (see `cmd_db`)."""
    from aa_jak.settings import DEV_MODE_WARNING

    if args.dev:
        os.environ["AA_JAK_DEV_MODE"] = "true"
    settings = _settings(serving=True)  # fail here, once, rather than in every worker
    if settings is None:
        return 2
    if not settings.secret_key.get_secret_value():
        if not settings.dev_mode:
            print(
                "aa-jak: refusing to start without a secret key: set AA_JAK_SECRET_KEY "
                "(or use --dev for a development server)",
                file=sys.stderr,
            )
            return 2
        import secrets

        os.environ["AA_JAK_SECRET_KEY"] = secrets.token_urlsafe(48)  # shared by all workers
    if settings.dev_mode:
        banner = "!" * 88
        print(
            f"{banner}\n!! {DEV_MODE_WARNING}\n!! Never expose this server to real patient data.\n{banner}",
            file=sys.stderr,
            flush=True,
        )
    # Once, in the master: the workers then find the schema they need.
    if _database_status(settings.database_url, upgrade=True) is None:
        return 1
    _prepare_metrics_dir()
    build_server(args.host, args.port, args.workers, threads=args.threads).run()
    return 0


# --- sandbox, load-patients -----------------------------------------------------------------


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.runner import SandboxPorts, run_sandbox

    return run_sandbox(
        SandboxPorts(fhir=args.fhir_port, sandbox=args.sandbox_port, product=args.port), as_of=args.as_of
    )


def cmd_load_patients(args: argparse.Namespace) -> int:
    from sandbox.loader import LoadError, bundle_paths, load_patients

    as_of = args.as_of or date.today()
    paths = bundle_paths(args.dir)
    if not paths:
        print(f"No patient bundles in {args.dir}", file=sys.stderr)
        return 1
    try:
        loaded = load_patients(args.fhir, as_of=as_of, paths=paths)
    except LoadError as exc:
        print(f"aa-jak: {exc}", file=sys.stderr)
        return 1
    for item in loaded:
        print(
            f"{item.name:<40} {item.entries:>4} resources  "
            f"Patient/{', Patient/'.join(item.patient_ids) or '?'}"
        )
    print(f"Loaded {len(loaded)} bundles into {args.fhir}, dates anchored to {as_of}")
    return 0


# --- assess ---------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def _sidecar(path: Path) -> dict[str, Any] | None:
    sidecar = path.with_name(path.name.removesuffix(".json") + ".expected.json")
    if not sidecar.is_file():
        return None
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def _text(value: Any) -> str:
    return str(value.value if isinstance(value, Enum) else value)


def findings_table(findings: Sequence[Any], width: int | None = None) -> str:
    """severity | id | summary, most severe first; summaries cut to fit `width` (default: the terminal)."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    rows = sorted(findings, key=lambda f: (rank.get(_text(f.severity), 3), f.id))
    id_width = max([len("ID"), *(len(f.id) for f in rows)])
    if width is None:
        width = max(40, shutil.get_terminal_size((160, 24)).columns - id_width - 11)
    lines = [f"{'SEVERITY':<9} {'ID':<{id_width}} SUMMARY", f"{'-' * 9} {'-' * id_width} {'-' * 7}"]
    for finding in rows:
        summary = finding.summary if len(finding.summary) <= width else finding.summary[: width - 1] + "…"
        lines.append(f"{_text(finding.severity):<9} {finding.id:<{id_width}} {summary}")
    return "\n".join(lines)


def cmd_assess(args: argparse.Namespace) -> int:
    """Draft orders (named by a synthetic patient's sidecar, else status `draft`) are proposed orders."""
    from clinical_core import build_record, evaluate, load_knowledge, proposed_orders
    from clinical_core.bundles import split_drafts

    path = Path(args.bundle)
    as_of = args.as_of or date.today()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        sidecar = _sidecar(path)
        if args.reanchor:
            from clinical_core.anchoring import reanchor

            document = reanchor(document, as_of)
        elif sidecar is not None and args.as_of is None:
            from clinical_core.anchoring import ANCHOR_DATE

            print(
                f"note: {path.name} is a synthetic patient written as of {ANCHOR_DATE}; "
                f"use --as-of {ANCHOR_DATE} or --reanchor to see it as intended",
                file=sys.stderr,
            )
        drafts_named = sidecar.get("draft_orders", []) if sidecar is not None else None
        resources, drafts = split_drafts(document, drafts_named)
    except (OSError, ValueError) as exc:
        print(f"aa-jak: {path}: {exc}", file=sys.stderr)
        return 1
    knowledge = load_knowledge()
    proposed = tuple(proposed_orders(drafts, knowledge, context_resources=resources)) if drafts else ()
    assessment = evaluate(build_record(resources, knowledge), as_of, knowledge, proposed=proposed)
    if args.json:
        print(json.dumps({"as_of": as_of.isoformat(), **_jsonable(assessment)}, indent=2, ensure_ascii=False))
        return 0
    status = _text(getattr(assessment, "status", ""))
    drug = getattr(assessment, "drug", None)
    week = getattr(assessment, "therapy_week", None)
    print(f"Patient bundle: {path}   as of {as_of}")
    print(
        f"Status: {status}"
        + (f"   drug: {_text(drug)}" if drug else "")
        + (f"   week {week}" if week is not None else "")
    )
    print()
    print(findings_table(assessment.findings) if assessment.findings else "No findings.")
    return 0


# --- reports ----------------------------------------------------------------------------------


def cmd_feedback_report(args: argparse.Namespace) -> int:
    """Reads the database named by the settings (AA_JAK_DATABASE_URL or the config file)."""
    from cds_hooks import feedback_report_text
    from storage import Storage
    from storage.migrate import SchemaError

    settings = _settings()
    if settings is None:
        return 2
    try:
        store = Storage(settings.database_url)  # no secret key: the report reads no protected value
    except SchemaError as exc:
        print(f"aa-jak: database: {exc}", file=sys.stderr)
        return 1
    try:
        print(feedback_report_text(store), end="")
    finally:
        store.close()
    return 0


# --- database ---------------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace) -> int:
    """`db upgrade` brings the schema of the configured database to this version's head revision
    (PostgreSQL: under an advisory lock, so replicas may run it together); `db current` only looks;
    `db sql` prints the PostgreSQL upgrade as SQL and opens no database.
    Exit status 1 unless the schema is at head afterwards, so scripts can check with `db current`.
    """
    from sqlalchemy.engine import make_url

    if args.action == "sql":
        return _print_sql(args.since)
    settings = _settings()
    if settings is None:
        return 2
    status = _database_status(settings.database_url, upgrade=args.action == "upgrade")
    if status is None:
        return 1
    print(f"database: {make_url(settings.database_url).render_as_string(hide_password=True)}")
    print(f"revision: {status}")
    return 0 if status.up_to_date else 1


def _print_sql(since: str | None) -> int:
    """No database is opened: the SQL is written from the migrations alone."""
    from storage import migrate

    try:
        print(migrate.sql_script(since), end="")
    except migrate.SchemaError as error:
        print(f"aa-jak: {error}", file=sys.stderr)
        return 2
    return 0


def _database_status(database_url: str, *, upgrade: bool) -> SchemaStatus | None:
    """The schema's status, after upgrading it if asked; None once the reason it failed is printed."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage import migrate
    from storage.engine import engine_for

    try:
        with engine_for(database_url) as engine:
            if upgrade:
                before = migrate.upgrade(engine)
                if not before.up_to_date:
                    print(
                        f"aa-jak: database schema upgraded from revision {before.revision or 'none'} "
                        f"to {before.head}",
                        file=sys.stderr,
                    )
            return migrate.status(engine)
    except (ValueError, migrate.SchemaError, SQLAlchemyError) as exc:
        print(f"aa-jak: database: {exc}", file=sys.stderr)
        return None


def _settings(*, serving: bool = False) -> Settings | None:
    """The settings; None once the configuration error is printed.

    `serving` adds the checks `create_app` makes, so that `serve` reports them once, plainly,
    instead of every gunicorn worker failing with a traceback.
    """
    from aa_jak.settings import Settings, SettingsError, refuse_plain_http

    try:
        settings = Settings()
        if serving:
            refuse_plain_http(settings)
        return settings
    except (SettingsError, ValueError) as exc:
        print(f"aa-jak: configuration error: {exc}", file=sys.stderr)
        return None


def cmd_check_knowledge(args: argparse.Namespace) -> int:
    from clinical_core import KnowledgeError, load_knowledge

    try:
        knowledge = load_knowledge(args.file) if args.file else load_knowledge()
    except (KnowledgeError, OSError) as exc:
        print(f"aa-jak: knowledge file invalid: {exc}", file=sys.stderr)
        return 1
    value_sets = getattr(knowledge, "value_sets", {})
    codes = [c for vs in value_sets.values() for c in getattr(vs, "codes", ())]
    print(f"Knowledge file OK: {getattr(knowledge, 'title', '')}")
    print(f"  version:      {knowledge.version}")
    print(f"  value sets:   {len(value_sets)}")
    print(f"  codes:        {len(codes)} ({sum(1 for c in codes if getattr(c, 'verified', False))} verified)")
    members = [n for vs in value_sets.values() for n in getattr(vs, "names", ()) if not isinstance(n, str)]
    print(f"  class names:  {len(members)} ({sum(1 for n in members if n.verified)} verified)")
    for name in ("drugs", "sources", "rules", "labs", "parameters"):
        collection = getattr(knowledge, name, None)
        if isinstance(collection, dict | list | tuple):
            print(f"  {name + ':':<13} {len(collection)}")
    return 0


# --- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aa-jak", description="JAK inhibitors for alopecia areata: CDS service and SMART app"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the product with gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per worker (gthread); 1 runs sync workers (faster CDS calls, but FHIR waits block)",
    )
    serve.add_argument(
        "--dev", action="store_true", help="development mode: unauthenticated CDS calls, plain-http FHIR"
    )
    serve.set_defaults(func=cmd_serve)

    sandbox = sub.add_parser(
        "sandbox", help="start FHIR server, synthetic patients, SMART/EHR simulator and the product"
    )
    sandbox.add_argument("--fhir-port", type=_port, default=8090)
    sandbox.add_argument("--sandbox-port", type=_port, default=8091)
    sandbox.add_argument("--port", type=_port, default=8000, help="the product's port")
    sandbox.add_argument(
        "--as-of", type=_iso_date, default=None, help="anchor the patients' dates here (default today)"
    )
    sandbox.set_defaults(func=cmd_sandbox)

    load = sub.add_parser("load-patients", help="load the synthetic patients into a FHIR server")
    load.add_argument("--fhir", required=True, help="FHIR base URL, e.g. http://127.0.0.1:8090/fhir")
    load.add_argument("--as-of", type=_iso_date, default=None, help="anchor date (default today)")
    load.add_argument(
        "--dir", type=Path, default=Path(__file__).resolve().parent.parent / "synthetic_patients"
    )
    load.set_defaults(func=cmd_load_patients)

    assess = sub.add_parser("assess", help="evaluate one patient bundle and print the findings")
    assess.add_argument("bundle", metavar="BUNDLE.json")
    assess.add_argument(
        "--as-of", type=_iso_date, default=None, help="evaluate as of this date (default today)"
    )
    assess.add_argument(
        "--reanchor",
        action="store_true",
        help="first move a synthetic bundle's anchor date to the as-of date",
    )
    assess.add_argument("--json", action="store_true", help="print JSON instead of a table")
    assess.set_defaults(func=cmd_assess)

    report = sub.add_parser("feedback-report", help="summarise CDS card feedback")
    report.set_defaults(func=cmd_feedback_report)

    db = sub.add_parser("db", help="the database schema: upgrade it, or show its revision")
    db_actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    db_actions.add_parser("upgrade", help="upgrade the schema to this version's revision (head)")
    db_actions.add_parser("current", help="show the schema's revision; exit status 1 unless at head")
    sql = db_actions.add_parser(
        "sql", help="print the PostgreSQL SQL of the upgrade to head, for a DBA to review and run"
    )
    sql.add_argument("--from", dest="since", metavar="REVISION", help="the revision the database is at")
    db.set_defaults(func=cmd_db)

    check = sub.add_parser("check-knowledge", help="load and validate the knowledge file")
    check.add_argument("--file", type=Path, default=None, help="a knowledge file other than the packaged one")
    check.set_defaults(func=cmd_check_knowledge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
