"""simple-salesforce without its Metadata API client loaded up front.

`simple_salesforce.api` imports `SfdcMetadataApi` at import time, and with it zeep and lxml
(about 6.5 MB of RSS in a Baton process, measured by benchmarks/memory.py). Baton never deploys
metadata. `lazy_metadata_api()` puts a stand-in for `simple_salesforce.metadata` in place before
the SDK is first imported; the stand-in loads the real module the first time `sf.mdapi` builds
one, so the SDK keeps working in full.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

MODULE = "simple_salesforce.metadata"


def _real_module() -> types.ModuleType:
    """The SDK's own metadata module, loaded from its file and put in the stand-in's place."""
    import simple_salesforce

    spec = importlib.machinery.PathFinder.find_spec(MODULE, list(simple_salesforce.__path__))
    if spec is None or spec.loader is None:
        raise ImportError(f"{MODULE} not found beside simple_salesforce")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[MODULE] = module
    return module


class SfdcMetadataApi:
    """Stands in for the SDK's class; building one builds the real one."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real_module().SfdcMetadataApi(*args, **kwargs)


def lazy_metadata_api() -> None:
    """Before simple-salesforce is first imported (after: too late, and nothing to save)."""
    if "simple_salesforce" in sys.modules or MODULE in sys.modules:
        return
    stand_in = types.ModuleType(MODULE, __doc__)
    stand_in.SfdcMetadataApi = SfdcMetadataApi  # type: ignore[attr-defined]  # the one name api.py imports
    sys.modules[MODULE] = stand_in
