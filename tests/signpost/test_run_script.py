"""scripts/run stops with a clear message, before installing or migrating anything, when it cannot serve."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[2] / "scripts" / "run"


def _run(port: str):
    env = {**os.environ, "PORT": port, "SIGNPOST_VENV": "/nonexistent-venv-never-created"}
    return subprocess.run(["bash", str(RUN)], env=env, capture_output=True, text=True, timeout=30)


def test_run_stops_with_a_clear_message_when_its_port_is_taken():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(str(port))
    assert result.returncode == 1
    assert f"port {port} is already in use" in result.stderr and "PORT=8001 scripts/run" in result.stderr
    assert "running" not in result.stdout
    assert not Path("/nonexistent-venv-never-created").exists()  # stopped before setting anything up


@pytest.mark.parametrize("port", ["eighty", "0", "70000"])
def test_run_refuses_a_port_that_is_not_a_port(port):
    result = _run(port)
    assert result.returncode == 1 and "PORT must be a number from 1 to 65535" in result.stderr
