"""An emulated Salesforce org that speaks the REST wire format simple-salesforce expects.

Routes (all JSON; errors are Salesforce's `[{"message", "errorCode", "fields"?}]` arrays):

    POST   /services/oauth2/token                 client_credentials (Basic) and JWT bearer
    GET    /services/data                         versions (no auth, no usage header)
    GET    /services/data/vXX.X/limits
    GET    /services/data/vXX.X/query?q=          and queryAll; Sforce-Query-Options: batchSize=N
    GET    /services/data/vXX.X/query/01g...-2000 nextRecordsUrl pages
    POST   /services/data/vXX.X/sobjects/{Type}
    GET/PATCH/DELETE /services/data/vXX.X/sobjects/{Type}/{id}
    GET    /services/data/vXX.X/sobjects/{Type}/describe
    POST   /services/data/vXX.X/composite/sobjects   create collections (<= 200, allOrNone)
    PATCH  /services/data/vXX.X/composite/sobjects   update collections

Every authenticated REST answer carries `Sforce-Limit-Info: api-usage=used/max` and counts one
request against the daily allocation; past it, 403 REQUEST_LIMIT_EXCEEDED. Tracked fields
(Lead.Status, Opportunity.StageName by default) write LeadHistory / OpportunityFieldHistory rows.
All timestamps come from `emulator.clock` and have Salesforce's one-second precision.

Tests and the scripted demo team act as Salesforce users through the Python methods
`create_record`, `update_record`, `delete_record`, `records`, `expire_sessions`, `set_api_usage`.
"""
from __future__ import annotations

from .emulator import SalesforceEmulator
from .schemas import SANDBOX_REFRESH_TOKEN, SaveError, case_safe_id, make_id

__all__ = ["SANDBOX_REFRESH_TOKEN", "SalesforceEmulator", "SaveError", "case_safe_id", "make_id"]
