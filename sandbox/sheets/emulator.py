"""The emulated Sheets v4 + Drive v3 server in one `Emulator`: the routes (auth.py,
metadata.py, batch_update.py, values.py) and the Python-side users (users.py) over one state
(state.py); see the package docstring."""
from __future__ import annotations

from .auth import AuthRoutes
from .batch_update import BatchUpdateRoutes
from .metadata import MetadataRoutes
from .users import SheetsUsers
from .values import ValuesRoutes


class SheetsEmulator(AuthRoutes, MetadataRoutes, BatchUpdateRoutes, ValuesRoutes, SheetsUsers):
    tool = "sheets"
