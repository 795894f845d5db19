"""boto3 clients, built on first use and kept for the container's life (never at import)."""
from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:  # Any: boto3 builds each service's client class at run time
    import boto3  # imported here: a cold start that never touches AWS pays nothing

    return boto3.client(service)


def reset() -> None:
    client.cache_clear()
