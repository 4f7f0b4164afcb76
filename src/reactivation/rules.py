"""Every rule value in one place: the vars of `dbt_project.yml`, overridden by `REACTIVATION_DBT_VARS`.

The SQL reads them as `var(...)`; the runner, the quality gate, retention, the report and the benchmark read the
same values here and keep no copy, so a changed var reaches both sides at once. docs/rules.md explains each rule.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

OVERRIDES_ENV = "REACTIVATION_DBT_VARS"


def project_file() -> Path:
    """The `dbt_project.yml` whose vars hold every rule's default."""
    from reactivation.settings import Settings

    return Settings().project_dir / "dbt_project.yml"


def overrides() -> dict[str, Any]:
    """`REACTIVATION_DBT_VARS`: a JSON object overriding any rule's var for every run of the runner."""
    return dict(_parse_overrides(os.environ.get(OVERRIDES_ENV, "").strip()))


@cache
def _parse_overrides(configured: str) -> dict[str, Any]:
    try:
        values = json.loads(configured) if configured else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"{OVERRIDES_ENV} is not a JSON object: {exc.msg}") from None
    if not isinstance(values, dict):
        raise ValueError(f'{OVERRIDES_ENV} must be a JSON object like {{"max_messages_per_run": 50}}')
    return values


def defaults() -> dict[str, Any]:
    """The vars as `dbt_project.yml` defines them (read again only when the file changes)."""
    path = project_file()
    return dict(_read_vars(str(path), path.stat().st_mtime_ns))


@cache
def _read_vars(path: str, _mtime_ns: int) -> dict[str, Any]:
    import yaml

    project = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return dict(project.get("vars") or {})


def run_vars(as_of: date | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `--vars` of one dbt run: `REACTIVATION_DBT_VARS`, then `extra`, then the as-of date."""
    values = overrides()
    values.update(extra or {})
    if as_of is not None:
        values["as_of_date"] = as_of.isoformat()
    return values


def value(name: str) -> Any:
    """One rule's var as the next dbt run sees it: `REACTIVATION_DBT_VARS`, else its default in `dbt_project.yml`."""
    configured = overrides()
    if name in configured:
        return configured[name]
    values = defaults()
    if name not in values:
        raise KeyError(f"dbt_project.yml defines no var {name!r}")
    return values[name]


@dataclass(frozen=True)
class Rules:
    """The rule values Python reads, typed; each field is the dbt var of the same name (docs/rules.md)."""

    default_timezone: str
    interval_min_days: int
    interval_max_days: int
    interval_levels: tuple[str, ...]
    lost_after_days: int
    tones: tuple[str, ...]
    gentle_max_ratio: float
    offer_max_ratio: float
    exclusion_reasons: tuple[str, ...]
    cooldown_days: int
    max_attempts_per_cycle: int
    phone_min_digits: int
    phone_max_digits: int
    holdout_percent: float
    message_variants: tuple[str, ...]
    max_messages_per_run: int
    attribution_days: int
    min_sample_per_group: int
    confidence_z: float

    @property
    def phone_pattern(self) -> str:
        """A stored phone: `+` and `phone_min_digits`–`phone_max_digits` digits."""
        return rf"^\+[0-9]{{{self.phone_min_digits},{self.phone_max_digits}}}$"


def current() -> Rules:
    """The rules the next run applies (read at call time, so a changed `REACTIVATION_DBT_VARS` is seen at once)."""
    path = project_file()
    return _rules(os.environ.get(OVERRIDES_ENV, "").strip(), str(path), path.stat().st_mtime_ns)


@cache
def _rules(configured: str, path: str, mtime_ns: int) -> Rules:
    values = {**_read_vars(path, mtime_ns), **_parse_overrides(configured)}
    typed: dict[str, Any] = {}
    for item in fields(Rules):
        if item.name not in values:
            raise KeyError(f"dbt_project.yml defines no var {item.name!r}")
        raw = values[item.name]
        kind = str(item.type)
        if kind.startswith("tuple"):
            if isinstance(raw, str) or not isinstance(raw, list | tuple) or not raw:
                raise ValueError(f"var {item.name} must be a non-empty list, not {raw!r}")
            typed[item.name] = tuple(str(entry) for entry in raw)
        else:
            typed[item.name] = {"int": int, "float": float, "str": str}[kind](raw)
    return Rules(**typed)
