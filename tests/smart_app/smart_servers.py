"""Real HTTP servers for the integration and browser tests: the development SMART server and the app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from smart_fakes import make_knowledge
from werkzeug.serving import make_server


@contextmanager
def serve(app: Any, port: int) -> Iterator[str]:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(5)


class KnowledgeWithSalt:
    """The real knowledge file, plus the SALT weights/bands of the test knowledge if the file lacks them."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.salt = getattr(real, "salt", None) or make_knowledge().salt
        params = getattr(real, "parameters", None)
        self.parameters = params if params is not None else make_knowledge().parameters

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def integration_knowledge() -> Any:
    from clinical_core import load_knowledge

    return KnowledgeWithSalt(load_knowledge())


def core_or_standin(monkeypatch: Any) -> None:
    """Real `evaluate` when the core exports it; until then a stand-in that concludes nothing."""
    import clinical_core

    if hasattr(clinical_core, "evaluate"):
        return
    import smart_app.data as data
    from clinical_core.findings import Assessment

    monkeypatch.setattr(
        data, "evaluate", lambda record, as_of, knowledge: Assessment(as_of=as_of, status="undetermined")
    )
