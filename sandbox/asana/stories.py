"""Routes: a task's stories, and comments posted as stories."""
from __future__ import annotations

from baton.sandbox.server import Request, Response, route

from .api import AsanaApi
from .model import API, ApiError
from .wire import opt_fields, project_fields, strip_html


class StoryRoutes(AsanaApi):
    @route("GET", API + r"/tasks/(?P<gid>\d+)/stories", name="get_stories_for_task")
    def get_stories(self, request: Request) -> Response:
        task = self._task(request.params["gid"])
        items = [self._render_story(s) for s in task.stories]
        return self._page(items, request, ("created_at", "created_by", "resource_subtype",
                                           "text", "type"))

    @route("POST", API + r"/tasks/(?P<gid>\d+)/stories", name="create_story_for_task")
    def post_story(self, request: Request) -> Response:
        task = self._task(request.params["gid"])
        data = self._body(request)
        text = data.get("text")
        if text is None and data.get("html_text") is not None:
            text = strip_html(data["html_text"])
        if not text:
            raise ApiError(400, "text: Missing input")
        extra = {"html_text": data["html_text"]} if data.get("html_text") else {}
        story = self._story(task, self._me(request), "comment_added", text, kind="comment",
                            is_pinned=bool(data.get("is_pinned")), **extra)
        return Response(201, {"data": project_fields(self._render_story(story),
                                                     opt_fields(request))})
