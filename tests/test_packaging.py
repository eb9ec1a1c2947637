"""The wheel carries sql/ and web/, so that an installed package finds them outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_the_sql_and_web_folders(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("atum_metrics-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = sorted(p.name for p in (ROOT / "sql" / "migrations").glob("*.sql"))
    assert migrations, "no migrations in the checkout"
    for name in migrations:
        assert f"atum_metrics/sql/migrations/{name}" in names
    assert "atum_metrics/sql/queries/snapshot_cycle.sql" in names
    assert "atum_metrics/web/dashboard.html" in names
