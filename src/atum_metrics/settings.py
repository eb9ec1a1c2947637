"""Settings: one frozen value built from ``ATUM_*`` variables, validated at start."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import platformdirs
from starlette.config import Config

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message is one line for the user."""


def parse_duration(text: str, *, default_unit: str = "s", units: str = "smhd") -> timedelta:
    """Parse ``30``, ``90s``, ``15m``, ``24h`` or ``7d`` into a positive timedelta."""
    match = _DURATION.match(text)
    if match is None or (match.group(2) or default_unit) not in units:
        allowed = ", ".join(units)
        raise ValueError(f"{text!r} is not a duration (a positive integer with one of {allowed})")
    seconds = int(match.group(1)) * _UNITS[match.group(2) or default_unit]
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return timedelta(seconds=seconds)


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None = None
    read_database_url: str | None = None
    data_dir: Path = Path(platformdirs.user_data_dir("atum-metrics"))
    snapshot_interval: float = 30.0
    metrics_window: timedelta = timedelta(hours=24)
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_private_key: str | None = None
    sse_ping: float = 15.0
    sse_replay_max: int = 100
    sse_send_timeout: float = 30.0
    sse_max_per_org: int = 200
    history_max_range: timedelta = timedelta(days=90)
    export_dir: Path | None = None
    retention_days: int = 30
    log_level: str = "INFO"

    @property
    def exports(self) -> Path:
        """Where Parquet files go: ``ATUM_EXPORT_DIR`` or ``<data dir>/exports``."""
        return self.export_dir if self.export_dir is not None else self.data_dir / "exports"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _seconds(name: str, raw: str) -> float:
    """Seconds: a plain number (``0.5``, ``30``) or a duration (``90s``, ``5m``, ``1h``)."""
    try:
        value = float(raw)
    except ValueError:
        try:
            return parse_duration(raw).total_seconds()
        except ValueError:
            raise SettingsError(
                f"{name}={raw!r} is not a number of seconds or a duration like 30s, 5m or 1h"
            ) from None
    if not value > 0:
        raise SettingsError(f"{name}={raw!r} must be greater than 0")
    return value


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} must be greater than 0")
    return value


def _duration(name: str, raw: str) -> timedelta:
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _url(name: str, raw: str) -> str:
    if not raw.startswith(("postgresql://", "postgres://")):
        raise SettingsError(f"{name} must be a postgresql:// URL")
    return raw


_CONVERTERS: dict[str, Any] = {
    "database_url": _url,
    "read_database_url": _url,
    "data_dir": lambda _n, raw: Path(raw).expanduser(),
    "snapshot_interval": _seconds,
    "metrics_window": _duration,
    "jwt_secret": lambda _n, raw: raw,
    "jwt_public_key": lambda n, raw: _pem(n, raw, private=False),
    "jwt_private_key": lambda n, raw: _pem(n, raw, private=True),
    "sse_ping": _seconds,
    "sse_replay_max": _positive_int,
    "sse_send_timeout": _seconds,
    "sse_max_per_org": _positive_int,
    "history_max_range": _duration,
    "export_dir": lambda _n, raw: Path(raw).expanduser(),
    "retention_days": _positive_int,
    "log_level": lambda n, raw: _log_level(n, raw),
}


def _pem(name: str, raw: str, *, private: bool) -> str:
    """A PEM key, checked now rather than at the first token (``\\n`` escapes allowed, as an
    environment file often holds the key on one line)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    text = raw.replace("\\n", "\n") if "\n" not in raw else raw
    try:
        if private:
            serialization.load_pem_private_key(text.encode(), password=None)
        else:
            serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        kind = "private" if private else "public"
        raise SettingsError(f"{name} is not a PEM {kind} key") from None
    return text


def _log_level(name: str, raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"{name}={raw!r} is not one of DEBUG, INFO, WARNING, ERROR")
    return level


# Flags whose name is not the setting's own (errors name what the user typed).
FLAG_NAMES = {"snapshot_interval": "--interval"}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from ``ATUM_*`` variables (``environ``), then apply flag ``overrides``.

    Overrides given as strings are validated like the environment; ``None`` means "not given".
    Raises ``SettingsError`` with a one-line message on the first bad value.
    """
    config = Config(environ=dict(os.environ if environ is None else environ))
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Settings):
        name = f"ATUM_{field.name.upper()}"
        raw = overrides.get(field.name)
        if raw is None:
            raw = config(name, default=None)
        else:
            name = FLAG_NAMES.get(field.name, "--" + field.name.replace("_", "-"))
        if raw is None or raw == "":
            continue
        if isinstance(raw, str):
            values[field.name] = _CONVERTERS[field.name](name, raw.strip())
        else:
            values[field.name] = raw
    return Settings(**values)
