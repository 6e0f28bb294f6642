"""One transport shape for every tool: budget → count → SDK call → map errors → retry.

Each tool's client builds a `Transport` with its own error table (`map_error`: an SDK exception
→ one of Baton's errors, or None to let it through) and calls its SDK through `Transport.call`.
Calls are counted per source: the counter belongs to the connector that asked, so a workspace
shared by two Asana projects never counts one project's call for the other.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from baton.connectors.budget import RateBudget
from baton.connectors.retry import RetryPolicy

T = TypeVar("T")

ErrorTable = Callable[[str, BaseException], BaseException | None]


@dataclass
class Transport:
    tool: str
    retry: RetryPolicy
    map_error: ErrorTable
    budget: RateBudget | None = None

    def call(self, endpoint: str, fn: Callable[[], T], *, counter: Counter[str],
             cost: int = 1, write: bool = False, before: Callable[[], None] | None = None) -> T:
        """`fn()` within the budget, counted under `endpoint`, its errors mapped by the table and
        retried by the policy (reads on every TransientError, writes on RateLimited only).

        `before()`, when given, runs first in every attempt, before the budget and the count: a
        check that may refuse the call (Salesforce's allocation guard) or a login it needs."""

        def attempt() -> T:
            if before is not None:
                before()
            if self.budget is not None:
                self.budget.acquire(cost)
            counter[endpoint] += 1
            try:
                return fn()
            except Exception as error:  # noqa: BLE001 - the table decides; unmapped ones re-raise
                mapped = self.map_error(endpoint, error)
                if mapped is None or mapped is error:
                    raise
                raise mapped from None

        return self.retry.call(attempt, tool=self.tool, what=endpoint, write=write)
