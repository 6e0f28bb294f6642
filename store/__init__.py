"""All SQL: migrations, records, transitions, the write-back ledger, cursors."""
from baton.store.models import (
    CycleWrite, Evaluation, KnownRecord, LedgerEntry, OpenViolation, SlaTimer,
)
from baton.core.records import Transition
from baton.store.rows import EvaluationRow, LedgerRow, SourceState, StoredRecord, TransitionValues
from baton.store.state import StateStore

__all__ = ["CycleWrite", "Evaluation", "EvaluationRow", "KnownRecord", "LedgerEntry", "LedgerRow",
           "OpenViolation", "SlaTimer", "SourceState", "StateStore", "StoredRecord", "Transition",
           "TransitionValues"]
