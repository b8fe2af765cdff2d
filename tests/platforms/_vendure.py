"""
What the Vendure tests without a server share: a mock answer's type,
Vendure's refusal of a permission, the query a request sent, and no
waits between retries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
import stamina


Handler = Callable[[httpx.Request], httpx.Response]

FORBIDDEN = {
    "message": "You are not currently authorized to perform this action",
    "extensions": {"code": "FORBIDDEN"},
}


@pytest.fixture(name="no_waits")
def _no_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


def query_of(request: httpx.Request) -> str:
    """
    The GraphQL document *request* sent.
    """
    return str(json.loads(request.content)["query"])
