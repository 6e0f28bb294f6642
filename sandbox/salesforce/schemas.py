"""The emulated org's ground rules: Salesforce ids, the object schemas, required fields, length
limits and defaults, which objects keep field history, and the REST error shapes.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baton.sandbox.server import Response

from .soql_schema import FieldType, ObjectSchema, Relationship

F = FieldType
API = r"/services/data/v(?P<version>\d+\.\d+)"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SANDBOX_REFRESH_TOKEN = "5Aep861sandbox.refresh.token"  # what a web-server flow would have issued

KEY_PREFIXES = {
    "Lead": "00Q", "Task": "00T", "FeedItem": "0D5", "FeedComment": "0D7", "User": "005",
    "Group": "00G", "GroupMember": "011", "Opportunity": "006", "LeadHistory": "017",
    "OpportunityFieldHistory": "01k", "Organization": "00D", "Campaign": "701",
    "CampaignHistory": "0C8",
}
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def make_id(prefix: str, serial: int) -> str:
    """An 18-character Salesforce id: key prefix, pod, serial, and the case-safe suffix."""
    digits = ""
    n = serial
    for _ in range(6):
        n, rem = divmod(n, 62)
        digits = _BASE62[rem] + digits
    return case_safe_id(f"{prefix}Dn0000{digits}")


def case_safe_id(id15: str) -> str:
    """The 18-character form: three characters telling which of the 15 are upper case."""
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, char in enumerate(id15[chunk * 5 : chunk * 5 + 5])
                   if "A" <= char <= "Z")
        suffix += _CHECKSUM[bits]
    return id15[:15] + suffix


# --------------------------------------------------------------------------------------------
# Schemas

AUDIT_FIELDS = {
    "Id": F.ID, "CreatedDate": F.DATETIME, "CreatedById": F.REFERENCE,
    "LastModifiedDate": F.DATETIME, "LastModifiedById": F.REFERENCE,
    "SystemModstamp": F.DATETIME, "IsDeleted": F.BOOLEAN,
}
_AUDIT_RELS = [Relationship("CreatedBy", "CreatedById", "User"),
               Relationship("LastModifiedBy", "LastModifiedById", "User")]


def _person_name(row: Mapping[str, Any]) -> str | None:
    parts = [row.get("FirstName"), row.get("LastName")]
    return " ".join(p for p in parts if p) or None


def _history_schema(name: str, parent: str) -> ObjectSchema:
    return ObjectSchema(
        name,
        {"Id": F.ID, f"{parent}Id": F.REFERENCE, "Field": F.PICKLIST, "DataType": F.PICKLIST,
         "OldValue": F.ANY, "NewValue": F.ANY, "CreatedDate": F.DATETIME,
         "CreatedById": F.REFERENCE, "IsDeleted": F.BOOLEAN},
        [Relationship(parent, f"{parent}Id", parent),
         Relationship("CreatedBy", "CreatedById", "User")],
    )


def default_schemas() -> dict[str, ObjectSchema]:
    schemas = [
        ObjectSchema(
            "Lead",
            {**AUDIT_FIELDS, "Name": F.STRING, "FirstName": F.STRING, "LastName": F.STRING,
             "Email": F.EMAIL, "Company": F.STRING, "Title": F.STRING, "Status": F.PICKLIST,
             "LeadSource": F.PICKLIST, "Consent__c": F.BOOLEAN, "Webinar_Topic__c": F.STRING,
             "OwnerId": F.REFERENCE, "Phone": F.PHONE, "Description": F.TEXTAREA,
             "IsConverted": F.BOOLEAN},
            [Relationship("Owner", "OwnerId", "User"), *_AUDIT_RELS],
            computed={"Name": _person_name},
        ),
        ObjectSchema(
            "Opportunity",
            {**AUDIT_FIELDS, "Name": F.STRING, "StageName": F.PICKLIST, "Amount": F.DOUBLE,
             "CloseDate": F.DATE, "OwnerId": F.REFERENCE, "LeadSource": F.PICKLIST,
             "Description": F.TEXTAREA, "IsClosed": F.BOOLEAN, "IsWon": F.BOOLEAN},
            [Relationship("Owner", "OwnerId", "User"), *_AUDIT_RELS],
        ),
        ObjectSchema(
            "Campaign",
            {**AUDIT_FIELDS, "Name": F.STRING, "Status": F.PICKLIST, "Type": F.PICKLIST,
             "IsActive": F.BOOLEAN, "OwnerId": F.REFERENCE, "StartDate": F.DATE,
             "Code__c": F.STRING, "UTM_Source__c": F.STRING, "UTM_Medium__c": F.STRING,
             "UTM_Campaign__c": F.STRING},
            [Relationship("Owner", "OwnerId", "User"), *_AUDIT_RELS],
        ),
        ObjectSchema(
            "Task",
            {**AUDIT_FIELDS, "Subject": F.STRING, "Description": F.TEXTAREA, "WhoId": F.REFERENCE,
             "WhatId": F.REFERENCE, "OwnerId": F.REFERENCE, "Status": F.PICKLIST,
             "Priority": F.PICKLIST, "ActivityDate": F.DATE, "IsClosed": F.BOOLEAN},
            [Relationship("Owner", "OwnerId", "User"), Relationship("Who", "WhoId", "Lead"),
             Relationship("What", "WhatId", "Opportunity"), *_AUDIT_RELS],
        ),
        ObjectSchema(
            "FeedItem",
            {**AUDIT_FIELDS, "ParentId": F.REFERENCE, "Body": F.TEXTAREA, "Type": F.PICKLIST,
             "Title": F.STRING, "IsRichText": F.BOOLEAN},
            _AUDIT_RELS,
        ),
        ObjectSchema(  # a reply in a post's thread
            "FeedComment",
            {**AUDIT_FIELDS, "FeedItemId": F.REFERENCE, "CommentBody": F.TEXTAREA,
             "IsRichText": F.BOOLEAN},
            [Relationship("FeedItem", "FeedItemId", "FeedItem"), *_AUDIT_RELS],
        ),
        ObjectSchema(
            "User",
            {**AUDIT_FIELDS, "Name": F.STRING, "FirstName": F.STRING, "LastName": F.STRING,
             "Username": F.STRING, "Email": F.EMAIL, "IsActive": F.BOOLEAN,
             "ManagerId": F.REFERENCE, "Title": F.STRING},
            [Relationship("Manager", "ManagerId", "User"), *_AUDIT_RELS],
            computed={"Name": _person_name},
        ),
        ObjectSchema(
            "Group",
            {**AUDIT_FIELDS, "Name": F.STRING, "DeveloperName": F.STRING, "Type": F.PICKLIST},
            _AUDIT_RELS,
        ),
        ObjectSchema(
            "GroupMember",
            {"Id": F.ID, "GroupId": F.REFERENCE, "UserOrGroupId": F.REFERENCE,
             "SystemModstamp": F.DATETIME},
            [Relationship("Group", "GroupId", "Group")],
        ),
        _history_schema("LeadHistory", "Lead"),
        _history_schema("OpportunityFieldHistory", "Opportunity"),
        _history_schema("CampaignHistory", "Campaign"),
    ]
    return {schema.name: schema for schema in schemas}


REQUIRED = {
    "Lead": ("LastName", "Company"),
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "Campaign": ("Name",),
    "FeedItem": ("ParentId", "Body"),
    "FeedComment": ("FeedItemId", "CommentBody"),
    "User": ("LastName", "Username", "Email"),
    "Group": ("Name",),
    "GroupMember": ("GroupId", "UserOrGroupId"),
}
MAX_LENGTH = {("Task", "Subject"): 255, ("FeedItem", "Body"): 10000, ("Lead", "Title"): 128,
              ("FeedComment", "CommentBody"): 10000,
              ("Lead", "Company"): 255, ("Task", "Description"): 32000}
DEFAULTS: dict[str, dict[str, Any]] = {
    "Lead": {"Status": "Open - Not Contacted", "IsConverted": False},
    "Task": {"Status": "Not Started", "Priority": "Normal", "IsClosed": False},
    "FeedItem": {"Type": "TextPost", "IsRichText": False},
    "User": {"IsActive": True},
    "Group": {"Type": "Regular"},
    "Campaign": {"Status": "Planned", "IsActive": False},
}
# Picklist values the org defines (describe's `picklistValues`); the emulator stores any value,
# as an org with "restricted picklist" off does, but `baton doctor` compares against these.
DEFAULT_PICKLISTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Lead", "Status"): ("Open - Not Contacted", "MQL", "Data Remediation", "Working - Contacted",
                         "SQL", "Unqualified"),
    ("Lead", "LeadSource"): ("Webinar", "Web", "Content Download", "Trade Show",
                             "Partner Referral", "Paid Search", "Demo Request", "Event"),
    ("Opportunity", "StageName"): ("Prospecting", "Qualification", "Proposal", "Negotiation",
                                   "Closed Won", "Closed Lost"),
    ("Task", "Status"): ("Not Started", "In Progress", "Completed"),
    ("Task", "Priority"): ("High", "Normal", "Low"),
    ("FeedItem", "Type"): ("TextPost", "LinkPost"),
    ("Group", "Type"): ("Regular", "Queue"),
    ("Campaign", "Status"): ("Planned", "In Progress", "Completed", "Aborted"),
    ("Campaign", "Type"): ("Email", "Webinar", "Advertisement", "Conference", "Other"),
}
FEED_TRACKED = frozenset({"Lead", "Opportunity"})  # Setup → Feed Tracking, on by default here
HISTORY_OBJECTS = {"Lead": ("LeadHistory", "LeadId"),
                   "Opportunity": ("OpportunityFieldHistory", "OpportunityId"),
                   "Campaign": ("CampaignHistory", "CampaignId")}
NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


class SaveError(Exception):
    """One record refused: becomes a SaveResult error or a 400 array."""

    def __init__(self, status_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.fields = fields or []

    def as_error(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}

    def as_rest(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.status_code, "fields": self.fields}]


def rest_error(status: int, code: str, message: str) -> Response:
    return Response(status, [{"message": message, "errorCode": code}])
