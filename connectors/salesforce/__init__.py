"""Salesforce connector: a thin adapter over simple-salesforce.

    client.py     SalesforceOrg: session, login, error table, API allocation, SOQL paging;
                  shared by every Salesforce source (auth.py: the OAuth / JWT / token logins)
    soql.py       SOQL text: literals, id lists, datetimes, every query sent
    paging.py     the shape of a query answer, and bounded paging
    read.py       changed records, the baseline, field history, rows → Record
    write.py      write-back planning and sending, find_written (owners.py: who it goes to)
    connector.py  SalesforceConnector: one source (an object and its status field)
    sdk.py        simple-salesforce imported without its Metadata API client (zeep, lxml)
"""
from baton.connectors.salesforce.sdk import lazy_metadata_api

lazy_metadata_api()  # before any module here imports simple_salesforce

from baton.connectors.salesforce.client import SalesforceOrg  # noqa: E402
from baton.connectors.salesforce.connector import SalesforceConnector  # noqa: E402

__all__ = ["SalesforceConnector", "SalesforceOrg"]
