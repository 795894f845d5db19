"""Which Lambda function is running: set by each entry point (chalicelib/handlers.py and the
authorizer in app.py), read by the local stack's IAM guard (infra/local/guard.py), which checks
every AWS call against that function's own policy (infra/policy.py) as AWS would."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("sellerops_function", default=None)


@contextmanager
def running(name: str) -> Iterator[None]:
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> str | None:
    return _current.get()
