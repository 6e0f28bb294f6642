"""Google Sheets: one tab is one source, a key column identifies a row.

    client.py     service-account auth, the googleapiclient services, transport, error table
    a1.py         A1 ranges, column letters, grid ranges
    notes.py      the Baton note block format (upsert/remove blocks in a cell note)
    read.py       Drive version check, values.get, rows -> Records
    write.py      rows located by key, ONE batchUpdate per write_back; the KPI tab writer
    verify.py     the batchUpdate answer checked: a write rows moved under is undone, retried
    connector.py  SheetsConnector: the Connector protocol over the above
"""
from baton.connectors.sheets.client import SheetsClient
from baton.connectors.sheets.connector import SheetsConnector
from baton.connectors.sheets.write import write_rows

__all__ = ["SheetsClient", "SheetsConnector", "write_rows"]
