"""The embedded Postgres used when no ``ATUM_DATABASE_URL`` is set (pgserver behind one seam)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)


class EmbeddedCluster(Protocol):
    """What the rest of the code needs from an embedded cluster."""

    def url(self) -> str: ...

    def stop(self) -> None: ...


class PgServerCluster:
    """A private cluster under ``<data dir>/postgres``, started or reused through pgserver.

    The cluster outlives the command that started it (so ``psql "$(atum-metrics db-url)"`` works
    and the next command starts instantly); ``stop()`` shuts it down.
    """

    def __init__(self, pgdata: Path, *, keep_running: bool = True) -> None:
        with warnings.catch_warnings():
            # pgserver resolves XDG_RUNTIME_DIR at import and warns when it is unset.
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        logger.info("embedded Postgres in %s (started if it was not running)", pgdata)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._server = get_server(pgdata, cleanup_mode=None if keep_running else "stop")

    def url(self) -> str:
        uri: str = self._server.get_uri()
        return uri

    def stop(self) -> None:
        self._server.cleanup()


def embedded_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded cluster in ``data_dir`` and return its URL."""
    return PgServerCluster(data_dir / "postgres").url()
