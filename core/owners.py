"""Who a write-back goes to: the record's owner, a named user, a queue, or the owner's manager.

Parsed once where a rule names it; connectors resolve it to a user of their tool.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OwnerKind(StrEnum):
    OWNER = "owner"  # the record's owner / assignee
    USER = "user"  # a named user: id, email or name, resolved by the connector
    QUEUE = "queue"  # a queue (Salesforce) or a designated remediation owner
    MANAGER = "manager"  # the owner's manager, where the tool knows it (Salesforce User.ManagerId)


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """Who a task goes to: `owner`, `manager`, `user:<id|email|name>` or `queue:<name>`."""

    kind: OwnerKind
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> OwnerRef:
        """Raises ValueError with what was expected."""
        raw = text.strip()
        if raw in ("owner", "manager"):
            return cls(OwnerKind(raw))
        kind, _, value = raw.partition(":")
        if kind in ("user", "queue") and value.strip():
            return cls(OwnerKind(kind), value.strip())
        raise ValueError(
            "expected 'owner', 'manager', 'user:<id, email or name>' or 'queue:<name>', found "
            + repr(text)
        )

    def __str__(self) -> str:
        return self.kind.value if self.value is None else f"{self.kind.value}:{self.value}"
