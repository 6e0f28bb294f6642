"""What the SOQL evaluator knows about the org: field types, relationships, object schemas, and
the `Catalog` interface the emulator implements (schemas and lookups by id).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    ID = "id"
    REFERENCE = "reference"
    STRING = "string"
    PICKLIST = "picklist"
    TEXTAREA = "textarea"
    EMAIL = "email"
    PHONE = "phone"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    DOUBLE = "double"
    INT = "int"
    ANY = "anyType"


TEXT_TYPES = {
    FieldType.STRING, FieldType.PICKLIST, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.PHONE,
}
ID_TYPES = {FieldType.ID, FieldType.REFERENCE}


@dataclass(frozen=True)
class Relationship:
    name: str  # "Owner"
    id_field: str  # "OwnerId"
    target: str  # "User"


@dataclass
class ObjectSchema:
    """What the evaluator needs to know about one sObject type."""

    name: str
    fields: dict[str, FieldType]  # canonical API name -> type
    relationships: list[Relationship] = field(default_factory=list)
    computed: dict[str, Callable[[Mapping[str, Any]], Any]] = field(default_factory=dict)
    filterable: bool = True  # long text areas etc. are refused in WHERE by real Salesforce
    unfilterable_fields: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self._by_lower = {name.lower(): name for name in self.fields}
        self._rel_by_lower = {rel.name.lower(): rel for rel in self.relationships}

    def canonical(self, name: str) -> str | None:
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> Relationship | None:
        return self._rel_by_lower.get(name.lower())


class Catalog:
    """The interface the evaluator needs from the org: schemas and lookups by id."""

    def schema(self, sobject: str) -> ObjectSchema | None:  # pragma: no cover - interface
        raise NotImplementedError

    def get_row(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:  # pragma: no cover
        raise NotImplementedError
