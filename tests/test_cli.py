"""The console script: bad configuration exits 2 with one line, good commands work."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from atum_metrics.settings import SettingsError, load_settings


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ATUM_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "atum_metrics", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "args", "mentions"),
    [
        ({"ATUM_SNAPSHOT_INTERVAL": "soon"}, ["migrate"], "ATUM_SNAPSHOT_INTERVAL"),
        ({"ATUM_SNAPSHOT_INTERVAL": "-5"}, ["worker", "--once"], "ATUM_SNAPSHOT_INTERVAL"),
        ({"ATUM_METRICS_WINDOW": "24x"}, ["worker"], "ATUM_METRICS_WINDOW"),
        ({"ATUM_DATABASE_URL": "mysql://x"}, ["db-url"], "ATUM_DATABASE_URL"),
        ({"ATUM_SSE_MAX_PER_ORG": "lots"}, ["db-url"], "ATUM_SSE_MAX_PER_ORG"),
        ({}, ["worker", "--interval", "0"], "--interval"),
        ({"ATUM_JWT_PUBLIC_KEY": "garbage"}, ["serve"], "ATUM_JWT_PUBLIC_KEY"),
        ({}, ["serve", "--port", "99999"], "--port"),
        ({}, ["analytics", "DROP TABLE x"], "read-only"),
        ({}, ["token", "--org", "not-a-uuid"], "--org"),
        ({}, ["no-such-command"], "invalid choice"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(
    env: dict[str, str], args: list[str], mentions: str
) -> None:
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert mentions in lines[0]
    assert "Traceback" not in result.stderr


def test_settings_read_the_environment_and_flags_override() -> None:
    env = {"ATUM_SNAPSHOT_INTERVAL": "10", "ATUM_METRICS_WINDOW": "2h", "ATUM_SSE_PING": "5"}
    settings = load_settings(env, snapshot_interval="3")
    assert settings.snapshot_interval == 3.0
    assert settings.metrics_window.total_seconds() == 7200
    assert settings.sse_ping == 5.0
    with pytest.raises(SettingsError, match="ATUM_HISTORY_MAX_RANGE"):
        load_settings({"ATUM_HISTORY_MAX_RANGE": "0d"})
    assert load_settings({"ATUM_SNAPSHOT_INTERVAL": "2m"}).snapshot_interval == 120.0


def test_migrate_seed_and_one_cycle_against_a_database(database_url: str) -> None:
    env = {"ATUM_DATABASE_URL": database_url}
    assert run_cli("migrate", env=env).returncode == 0
    seeded = run_cli("seed-demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert len(seeded.stdout.strip().splitlines()) == 3
    once = run_cli("worker", "--once", env=env)
    assert once.returncode == 0, once.stderr
    assert "3 organizations" in once.stdout
    url = run_cli("db-url", env=env)
    assert url.stdout.strip() == database_url


def test_worker_stops_cleanly_on_sigterm(database_url: str) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ATUM_")}
    environ.update({"ATUM_DATABASE_URL": database_url, "ATUM_SNAPSHOT_INTERVAL": "0.2"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "atum_metrics", "worker"],
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    assert proc.stderr is not None
    try:
        for line in proc.stderr:  # wait for the first cycle's log line
            if "organizations in" in line:
                break
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=10)[1]
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "worker stopped" in rest
    assert "Traceback" not in rest


def test_up_on_a_taken_port_fails_with_one_error_and_no_traceback(
    database_url: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "up",
            "--port",
            str(port),
            env={"ATUM_DATABASE_URL": database_url, "ATUM_DATA_DIR": str(tmp_path)},
        )
    assert result.returncode == 1
    assert f"did not start on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_without_a_configured_key_signs_with_the_data_dir_secret(tmp_path: Path) -> None:
    import jwt

    org = "7b0e1c52-9c7e-4b43-9d1a-0f8f4c1f2a11"
    env = {"ATUM_DATA_DIR": str(tmp_path)}
    first = run_cli("token", "--org", org, env=env)
    second = run_cli("token", "--org", org, "--admin", env=env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    secret = (tmp_path / "jwt_secret").read_text().strip()
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600
    claims = jwt.decode(second.stdout.strip(), secret, algorithms=["HS256"])
    assert claims["org_id"] == org
    assert "metrics:admin" in claims["scope"].split()
    assert jwt.decode(first.stdout.strip(), secret, algorithms=["HS256"])["org_id"] == org
