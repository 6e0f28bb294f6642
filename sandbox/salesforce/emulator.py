"""The emulated Salesforce org: its storage (org.py) and its REST routes (auth.py, query.py,
sobjects.py) in one `Emulator`; the routes are listed in the package docstring.
"""
from __future__ import annotations

from .auth import AuthRoutes
from .query import QueryRoutes
from .sobjects import SObjectRoutes


class SalesforceEmulator(AuthRoutes, QueryRoutes, SObjectRoutes):
    """One in-memory org. Thread-safe behind `self.lock`; every timestamp comes from `clock`."""

    tool = "salesforce"
