"""Build one connector per configured source; sources of one tool share its client."""
from __future__ import annotations

from typing import Any

from baton.connectors.base import Connector
from baton.connectors.retry import RetryPolicy
from baton.core.config import AsanaSource, Config, SalesforceSource, Secrets, SheetsSource


def build_connectors(config: Config, secrets: Secrets,
                     retry: RetryPolicy | None = None) -> dict[str, Connector]:
    retry = retry or RetryPolicy()
    clients: dict[str, Any] = {}
    connectors: dict[str, Connector] = {}
    for source in config.source:
        if isinstance(source, SalesforceSource):
            from baton.connectors.salesforce import SalesforceConnector, SalesforceOrg

            org = clients.get("salesforce") or SalesforceOrg(config.salesforce, secrets, retry)
            clients["salesforce"] = org
            connectors[source.id] = SalesforceConnector(source, org)
        elif isinstance(source, AsanaSource):
            from baton.connectors.asana import AsanaConnector, AsanaWorkspace

            workspace = clients.get("asana") or AsanaWorkspace(config.asana, secrets, retry)
            clients["asana"] = workspace
            connectors[source.id] = AsanaConnector(source, workspace)
        elif isinstance(source, SheetsSource):
            from baton.connectors.sheets import SheetsClient, SheetsConnector

            client = clients.get("sheets") or SheetsClient(config.sheets, secrets, retry)
            clients["sheets"] = client
            connectors[source.id] = SheetsConnector(source, client)
    return connectors
