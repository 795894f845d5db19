"""End to end: `replay --serve` keeps working after its summary line, as a deployment does: the
worker keeps taking what reaches the queues and the schedules keep running on their timer."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from infra.local.scenario import build_scenario
from tests.e2e.harness import serve_scenario

pytestmark = pytest.mark.e2e

TOKEN = "e2e-serving-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("serving")
    start = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    scenario = build_scenario(seed=5, orders=6, sellers=1, start=start, lost=1, malformed=0, unhandled=0)
    process = serve_scenario(directory, scenario, "--rate-scale", "100", "--schedule-every", "1", token=TOKEN)
    try:
        yield process, scenario
    finally:
        process.stop()


def test_after_the_summary_the_schedules_keep_running_and_their_tasks_are_worked(served):
    """Given `replay --serve` without --poll (no backstop run during the replay).
    When a few seconds pass after its summary. Then the backstop has run on its timer, its
    searchOrders tasks went through the worker to Amazon, and it found the order whose
    notification was lost."""
    process, scenario = served
    assert process.summary["tasks"]["polled"] == 0
    lost = [order_id for order_id, truth in scenario.expected["orders"].items() if not truth["notified"]]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        polls = process.amazon("calls", operation="searchOrders")["calls"]
        found = process.get(f"/orders/{lost[0]}").status_code == 200
        if len(polls) >= 2 and found:
            break
        time.sleep(0.5)
    health = process.ok("/health")
    assert "poll_orders" in health["schedules"], health
    assert len(process.amazon("calls", operation="searchOrders")["calls"]) >= 2
    assert process.ok(f"/orders/{lost[0]}")["status"] == scenario.expected["orders"][lost[0]]["status"]


@pytest.mark.parametrize("command", [["demo", "--no-serve"], ["replay", "--serve", "--world", "w.json", "m.jsonl"]])
def test_a_taken_port_is_said_in_one_line_at_once(tmp_path, command):
    """Given something already listening on the port. When `make demo PORT=N` (or replay --serve
    --port N) starts. Then it stops at once with exit 2 and one line naming the way out."""
    import socket
    import subprocess
    import sys

    from tests.e2e.harness import REPO_ROOT, child_env

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / "w.json").write_text('{"orders": []}', encoding="utf-8")
        (tmp_path / "m.jsonl").write_text("", encoding="utf-8")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "infra.local", *command, "--port", str(port)],
                              cwd=tmp_path, env={**child_env(TOKEN), "PYTHONPATH": str(REPO_ROOT)},
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip() == (f"error: port {port} on 127.0.0.1 is taken (Address already in use): "
                                   f"choose another one, e.g. make demo PORT={port + 1}, or --port {port + 1}")
    assert "Traceback" not in done.stderr and time.monotonic() - started < 20
