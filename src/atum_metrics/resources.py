"""Find the files that ship beside the code: ``sql/`` and ``web/``."""

from __future__ import annotations

import functools
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The ``sql`` or ``web`` folder: inside the installed wheel, or at the checkout's top."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"atum-metrics is installed without its {name}/ folder")


@functools.cache
def load_sql(name: str) -> str:
    """The text of ``sql/queries/<name>.sql``."""
    return (resource_dir("sql") / "queries" / f"{name}.sql").read_text(encoding="utf-8")
