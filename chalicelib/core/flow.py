"""What a flow declares: the notifications it consumes, the tasks it runs, its schedules, its
routes and its part of the OpenAPI document. `chalicelib/registry.py` lists the flows; app.py,
the intake and task handlers, the OpenAPI document and infra read everything from there.

Functions are referenced directly, so a flow's declaration must stay cheap to import: modules
that pull in sp_api or fpdf2 are imported inside the functions that need them (the cold-start
benchmark checks that intake never loads them).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.core.envelope import Notification
from chalicelib.core.tasks import Result, Task

Ports = Any  # each flow's own dataclass of adapters (or fakes, in tests)


@dataclass(frozen=True)
class Consumer:
    """A flow's handler for one notification type (and, for report and feed notifications, one
    report or feed type). It must be idempotent by itself: the same notification may come again,
    and other flows consume it too. Follow-up work is a task, never a call into another flow."""

    notification_type: str
    handle: Callable[[Notification, Ports, datetime], Result]
    ports: Callable[[], Ports]
    subtype: str | None = None


@dataclass(frozen=True)
class TaskKind:
    """A kind of task, the queue it travels on ("tasks" for calls to Amazon, "work" for heavy
    work) and the function that runs it."""

    kind: str
    run: Callable[[Task, Ports, datetime], Result]
    ports: Callable[[], Ports]
    queue: str = "tasks"
    # Told once a task of the kind is given up (a permanent error, or its last delivery failing:
    # its message goes to the dead-letter queue with the reason), with that reason: what waited
    # on it must not wait for ever. Never raises past itself (core/handlers.py logs and goes on).
    given_up: Callable[[Task, Ports, str, datetime], None] | None = None


@dataclass(frozen=True)
class Schedule:
    """A timer. Each schedule is its own Lambda function, named `name`."""

    name: str
    every_minutes: int
    run: Callable[[datetime], Mapping[str, Any]]  # returns what the run did, kept as its last run
    description: str = ""


@dataclass(frozen=True)
class Route:
    """An HTTPS route. `view(request, **uri_params)` returns a dict (200, JSON) or a Response.

    `scope` is what a token needs to call it (core/tokens.py SCOPES; None: any valid token);
    `needs_token=False` opens it to everyone (only /health). A route that takes a body names its
    JSON schema (OpenAPI 3.0 subset: core/schema.py), which is checked before the view runs, and
    may be retried with an Idempotency-Key (core/idempotency.py) when `idempotent`."""

    method: str
    path: str
    view: Callable[..., Any]
    name: str
    scope: str | None = None
    needs_token: bool = True
    body_schema: Mapping[str, Any] | None = None
    body_type: str | None = None  # a text body of this content type ("text/csv"), given to the view as a str
    max_body_bytes: int = 256 * 1024
    idempotent: bool = True


@dataclass(frozen=True)
class Flow:
    name: str
    summary: str
    consumers: tuple[Consumer, ...] = ()
    tasks: tuple[TaskKind, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    routes: tuple[Route, ...] = ()
    openapi_paths: Mapping[str, Any] = field(default_factory=dict)
    openapi_schemas: Mapping[str, Any] = field(default_factory=dict)
    # Counts for GET /health (never an id or a name): what waits, what needs a person.
    health: Callable[[], Mapping[str, int]] | None = None
