"""The emulated Asana REST API in one `Emulator`: state, rendering and actions (state.py,
render.py, actions.py), HTTP plumbing (api.py) and the routes; see the package docstring."""
from __future__ import annotations

from .batch import BatchRoutes
from .events import EventRoutes
from .projects import ProjectRoutes
from .stories import StoryRoutes
from .tasks import TaskRoutes


class AsanaEmulator(ProjectRoutes, TaskRoutes, StoryRoutes, EventRoutes, BatchRoutes):
    tool = "asana"
