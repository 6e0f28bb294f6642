"""Asana over the official asana SDK (v5): events for change detection, stories for history.

    client.py     AsanaWorkspace: the one ApiClient per process, its Transport, the error table
    project.py    AsanaProject: one source's call counter and its project's metadata
    cursor.py     the stored cursor (sync token, reconciliation times) and timestamp text
    fields.py     opt_fields, custom field values both ways, the idempotency marker line
    read.py       events, reconciliation, 412 recovery, tasks -> Records, stories -> history
    write.py      actions -> Batch API actions, find_written
    connector.py  AsanaConnector, the source the engine sees
"""
from .client import AsanaWorkspace
from .connector import AsanaConnector

__all__ = ["AsanaConnector", "AsanaWorkspace"]
