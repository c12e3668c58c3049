"""A process that cannot start ends, with the reason, instead of sitting "running" and serving nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .harness import ROOT, ExAppProcess, NextcloudTarget

pytestmark = pytest.mark.integration


def test_a_second_exapp_on_a_taken_port_exits_non_zero_saying_why(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, tmp_path: Path
):
    second = ExAppProcess(nextcloud, tmp_path, host=exapp.host, port=exapp.port)
    # Seen on a real server: "address already in use", "Application shutdown complete", then a hang in
    # asyncio's final task cancellation until a signal came.
    result = subprocess.run(
        [sys.executable, "-m", "ex_app.lib.main"],
        cwd=ROOT,
        env=second.env(),
        capture_output=True,
        text=True,
        timeout=20,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "address already in use" in output.lower()
    # The first instance is untouched.
    assert exapp.direct("GET", "/heartbeat").status_code == 200
