"""Pydantic schema of the knowledge file and the code indexes built from it."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, model_validator

DEFAULT_PATH = Path(__file__).with_name("protocol.yaml")


class KnowledgeError(ValueError):
    """The knowledge file is invalid; the message names the file and the bad key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeEntry(_Strict):
    system: str  # an alias of `systems:` in the file; resolved to the URI on load
    code: str
    display: str
    verified: bool = False
    sources: tuple[str, ...] = ()
    match: Literal["exact", "prefix"] = "exact"
    meaning: str | None = None
    strength_mg: float | None = None
    note: str | None = None


class ValueSet(_Strict):
    description: str
    codes: tuple[CodeEntry, ...] = ()
    names: tuple[str, ...] = ()
    exclude_names: tuple[str, ...] = ()

    def system_codes(self) -> list[tuple[str, str]]:
        return [(c.system, c.code) for c in self.codes]


class Knowledge(_Strict):
    version: str
    title: str
    reviewed_against: str
    systems: dict[str, str]
    value_sets: dict[str, ValueSet]

    _exact: dict[tuple[str, str], tuple[tuple[str, CodeEntry], ...]] = PrivateAttr(default_factory=dict)
    _prefix: dict[str, tuple[tuple[str, str, CodeEntry], ...]] = PrivateAttr(default_factory=dict)
    _name_patterns: dict[str, re.Pattern[str]] = PrivateAttr(default_factory=dict)
    _exclude_patterns: dict[str, re.Pattern[str]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _resolve_system_aliases(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        systems = data.get("systems") or {}
        for key, value_set in (data.get("value_sets") or {}).items():
            for entry in (value_set or {}).get("codes") or []:
                alias = entry.get("system")
                if alias not in systems:
                    raise ValueError(f"value_sets.{key}: unknown system alias {alias!r}")
                entry["system"] = systems[alias]
        return data

    def model_post_init(self, __context: object) -> None:
        exact: dict[tuple[str, str], list[tuple[str, CodeEntry]]] = {}
        prefix: dict[str, list[tuple[str, str, CodeEntry]]] = {}
        for key, value_set in self.value_sets.items():
            for entry in value_set.codes:
                if entry.match == "exact":
                    exact.setdefault((entry.system, entry.code), []).append((key, entry))
                else:
                    prefix.setdefault(entry.system, []).append((entry.code, key, entry))
            if value_set.names:
                self._name_patterns[key] = _words_pattern(value_set.names)
            if value_set.exclude_names:
                self._exclude_patterns[key] = _words_pattern(value_set.exclude_names)
        self._exact = {k: tuple(v) for k, v in exact.items()}
        self._prefix = {k: tuple(v) for k, v in prefix.items()}

    def lookup(self, system: str | None, code: str | None) -> tuple[tuple[str, CodeEntry], ...]:
        """Every (value set key, entry) a coding belongs to; prefix entries match ICD-10 ranges."""
        if not system or not code:
            return ()
        found = self._exact.get((system, code), ())
        prefixes = self._prefix.get(system)
        if prefixes:
            found = found + tuple((key, entry) for start, key, entry in prefixes if code.startswith(start))
        return found

    def lookup_name(self, text: str | None, key_prefix: str) -> tuple[str, ...]:
        """Value set keys (starting with key_prefix) whose `names` occur as words in text."""
        if not text:
            return ()
        return tuple(
            key
            for key, pattern in self._name_patterns.items()
            if key.startswith(key_prefix)
            and pattern.search(text)
            and not (key in self._exclude_patterns and self._exclude_patterns[key].search(text))
        )

    def excluded_by_name(self, key: str, text: str | None) -> bool:
        pattern = self._exclude_patterns.get(key)
        return bool(text and pattern and pattern.search(text))

    def codes_of(self, key: str) -> tuple[CodeEntry, ...]:
        return self.value_sets[key].codes


def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])", re.IGNORECASE)


def _error_path(error: dict[str, object]) -> str:
    loc = error.get("loc", ())
    return ".".join(str(part) for part in loc) if isinstance(loc, tuple) else str(loc)


def parse_knowledge(path: Path) -> Knowledge:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{path}: cannot read knowledge file: {exc}") from exc
    try:
        return Knowledge.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_error_path(dict(e))}: {e['msg']}" for e in exc.errors())
        raise KnowledgeError(f"{path}: invalid knowledge file: {problems}") from exc


@functools.cache
def _cached_default() -> Knowledge:
    return parse_knowledge(DEFAULT_PATH)


def load_knowledge(path: Path | None = None) -> Knowledge:
    """The validated knowledge file; the bundled one is parsed once per process."""
    return _cached_default() if path is None else parse_knowledge(path)


__all__ = ["CodeEntry", "Knowledge", "KnowledgeError", "ValueSet", "load_knowledge"]
