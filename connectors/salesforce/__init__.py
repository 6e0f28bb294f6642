"""Salesforce connector: a thin adapter over simple-salesforce.

    client.py     SalesforceOrg: session, login, error table, API allocation, SOQL paging;
                  shared by every Salesforce source (auth.py: the OAuth / JWT / token logins)
    soql.py       SOQL text: literals, id lists, datetimes, every query sent
    paging.py     the shape of a query answer, and bounded paging
    read.py       changed records, the baseline, field history, rows → Record
    write.py      write-back planning and sending, find_written (owners.py: who it goes to)
    connector.py  SalesforceConnector: one source (an object and its status field)
"""
from baton.connectors.salesforce.client import SalesforceOrg
from baton.connectors.salesforce.connector import SalesforceConnector

__all__ = ["SalesforceConnector", "SalesforceOrg"]
