"""``atum-metrics up --demo`` end to end: one process migrates, seeds, runs the worker and the
server, prints a working curl command, streams snapshots, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.live_server import free_port


def test_up_demo_serves_the_stream_it_advertises_and_stops_on_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ATUM_")}
    environ.update(
        {
            "ATUM_DATABASE_URL": database_url,
            "ATUM_DATA_DIR": str(tmp_path),
            "ATUM_SNAPSHOT_INTERVAL": "0.5",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "atum_metrics", "up", "--demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    assert proc.stdout is not None
    try:
        printed = []
        for line in proc.stdout:
            printed.append(line)
            if "curl -N" in line:
                break
        curl = re.search(r"curl -N -H 'Authorization: Bearer ([^']+)' (\S+)", "".join(printed))
        assert curl is not None, printed
        assert any(f"http://127.0.0.1:{port}/desk/dashboard#token=" in p for p in printed)
        token, url = curl.groups()
        events = []
        with httpx.stream(
            "GET", url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("event: snapshot"):
                    events.append(line)
                if len(events) == 2:  # the latest at connect, then a new cycle's
                    break
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
