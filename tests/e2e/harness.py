"""Drive `python -m infra.local replay` the way a user does: as a separate process, reading the
JSON lines it prints, then talking to the HTTP API it serves.

Nothing here imports the application: the tests see only the command line, stdout and HTTP.
"""
from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

# Settings a developer's shell (or another test in the same session) may hold, which would
# change what the command does. The child gets a clean slate plus what a test asks for.
_INHERITED_PREFIXES = ("SELLEROPS_", "SPAPI_", "LWA_", "AWS_", "POWERTOOLS_", "SP_API_")
_INHERITED_NAMES = {"FIRST_POLL_WINDOW_DAYS", "ORDER_POLL_OVERLAP_SECONDS"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(token: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_INHERITED_PREFIXES) and k not in _INHERITED_NAMES}
    env.update({"SELLEROPS_API_TOKEN": token, "POWERTOOLS_LOG_LEVEL": "ERROR", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects among the lines of `text` (log lines at ERROR level may share stdout)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def replay_command(world: Path, files: Iterable[Path], *options: str) -> list[str]:
    return [sys.executable, "-m", "infra.local", "replay", "--world", str(world), *options,
            *(str(f) for f in files)]


@dataclass
class Finished:
    """A replay without --serve: it has exited."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        lines = [line for line in json_lines(self.stdout) if "received" in line]
        assert len(lines) == 1, f"expected one summary line, stdout was:\n{self.stdout}\nstderr:\n{self.stderr[-3000:]}"
        return lines[0]


def run_replay(world: Path, files: Iterable[Path], *options: str, token: str, timeout: float = 120) -> Finished:
    done = subprocess.run(replay_command(world, files, *options), cwd=REPO_ROOT, env=child_env(token),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return Finished(done.returncode, done.stdout, done.stderr)


@dataclass
class Served:
    """A replay started with --serve: the summary it printed, and the API it keeps serving."""

    process: subprocess.Popen
    summary: dict[str, Any]
    api: str
    token: str
    simulator: str = ""
    aws: str = ""
    stdout_lines: list[str] = field(default_factory=list)
    stderr_path: Path | None = None

    def get(self, path: str, params: dict[str, Any] | None = None, *, token: str | None = "default",
            headers: dict[str, str] | None = None) -> requests.Response:
        """GET `path` on the API, with the Bearer token unless `token` says otherwise (None: no header)."""
        all_headers = dict(headers or {})
        if token == "default":
            token = self.token
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return requests.get(self.api + path, params=params, headers=all_headers, timeout=30)

    def ok(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.get(path, params)
        assert response.status_code == 200, f"GET {path} {params}: {response.status_code} {response.text[:500]}"
        return response.json()

    def amazon(self, view: str, **params: Any) -> dict[str, Any]:
        """GET /_simulator/<view> on the simulator's read-only port: what Amazon received and holds."""
        response = requests.get(f"{self.simulator}/_simulator/{view}", params=params, timeout=30)
        assert response.status_code == 200, (
            f"GET /_simulator/{view} {params}: {response.status_code} {response.text[:300]}")
        return response.json()

    def command(self, module: str, *args: str) -> subprocess.CompletedProcess:
        """`python -m infra.<module> <args> --stage local` against the served stack, as the demo
        prints it."""
        command, *rest = args
        env = {**child_env(self.token), "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
        return subprocess.run([sys.executable, "-m", f"infra.{module}", command, "--stage", "local",
                               "--region", "eu-west-1", "--endpoint-url", self.aws, *rest],
                              cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60)

    def request(self, method: str, path: str, *, token: str | None = "default", **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token == "default":
            token = self.token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.api + path, headers=headers, timeout=30, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def serve_scenario(directory: Path, scenario: Any, *options: str, token: str,
                   extra_messages: tuple[str, ...] = ()) -> Served:
    """`replay --serve` of a built scenario: its world and its messages (and `extra_messages`)
    written in `directory`, then served as a user would run it."""
    world = write_json(directory / "world.json", scenario.world)
    messages = directory / "messages.jsonl"
    messages.write_text("".join(m + "\n" for m in [*scenario.messages, *extra_messages]), encoding="utf-8")
    return start_served_replay(world, [messages], *options, token=token, workdir=directory)


@contextmanager
def served_in_the_past(directory: Path, token: str, days: int, seed: int, orders: int) -> Iterator[tuple[Served, Any]]:
    """One seller's scenario placed `days` in the past (a shipment cannot leave before its order
    was placed, nor in the future), clean (nothing lost or malformed), served fast (rate scale
    100, schedules every 5 s): (the served replay, the scenario)."""
    from infra.local.scenario import build_scenario

    start = (datetime.now(UTC) - timedelta(days=days)).replace(microsecond=0)
    scenario = build_scenario(seed=seed, orders=orders, sellers=1, start=start, lost=0, malformed=0, unhandled=0)
    process = serve_scenario(directory, scenario, "--rate-scale", "100", "--schedule-every", "5", token=token)
    try:
        yield process, scenario
    finally:
        process.stop()


def until(check: Callable[[], Any], seconds: float = 60, every: float = 0.3) -> Any:
    """`check()` once it answers something truthy, or its last answer after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    return check()


def start_served_replay(world: Path, files: Iterable[Path], *options: str, token: str, workdir: Path,
                        timeout: float = 120) -> Served:
    """Start `replay --serve` and wait for its two JSON lines: the summary, then
    {"api", "token", "simulator"}."""
    port = free_port()
    stderr_path = workdir / "replay.stderr.log"
    stderr = stderr_path.open("w", encoding="utf-8")
    process = subprocess.Popen(replay_command(world, files, "--serve", "--port", str(port), *options),
                               cwd=REPO_ROOT, env=child_env(token), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1)
    stderr.close()
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name="replay-stdout", daemon=True).start()
    seen: list[str] = []
    summary: dict[str, Any] | None = None
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"replay --serve printed no API line within {timeout:g} s; stdout so far:\n"
                                     + "".join(seen))
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"replay --serve exited ({process.wait()}) before serving; stdout:\n"
                                     + "".join(seen) + "\nstderr:\n" + stderr_path.read_text()[-3000:])
            seen.append(line)
            parsed = json_lines(line)
            if not parsed:
                continue
            if "received" in parsed[0] and summary is None:
                summary = parsed[0]
            elif "api" in parsed[0]:
                assert summary is not None, "the API line came before the summary line"
                served = Served(process, summary, parsed[0]["api"], parsed[0]["token"], parsed[0].get("simulator", ""),
                                parsed[0].get("aws", ""), seen, stderr_path)
                assert served.api == f"http://127.0.0.1:{port}", served.api
                return served
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        raise
