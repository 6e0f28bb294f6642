"""What each tool's connector can carry out, declared once and importable without any SDK, so
`baton check` can refuse a rule asking a tool for something it cannot do."""
from __future__ import annotations

from baton.core.actions import ActionKind, Capabilities
from baton.core.owners import OwnerKind

K = ActionKind

CAPABILITIES: dict[str, Capabilities] = {
    # Tasks for owners, named users, queues and the owner's manager; a fixed record's comment
    # is answered with a "resolved" post. A repeat failure rewrites the open Task's description
    # and replies in the open post's thread (FeedComment); a bulk of failures becomes one digest
    # Task per owner.
    "salesforce": Capabilities(
        writes=frozenset({K.COMMENT, K.TASK, K.SET_FIELD, K.MOVE_STATUS, K.REASSIGN,
                          K.CLOSE_TASK, K.REPLY, K.UPDATE_TASK, K.UPDATE_COMMENT, K.DIGEST,
                          K.DIGEST_ITEM}),
        owners=frozenset(OwnerKind), comment_resolution=K.REPLY),
    # Subtasks for the assignee or a named user (no queues, no managers); a fixed task's earlier
    # comment stays as the record of what was wrong: no new comment (teams hate noise). A repeat
    # failure comments on the open subtask, or in the task's own comment thread.
    "asana": Capabilities(
        writes=frozenset({K.COMMENT, K.TASK, K.SET_FIELD, K.MOVE_STATUS, K.REASSIGN,
                          K.CLOSE_TASK, K.REPLY, K.UPDATE_TASK, K.UPDATE_COMMENT}),
        owners=frozenset({OwnerKind.OWNER, OwnerKind.USER}), comment_resolution=None),
    # Notes and cell values; no tasks, no owners to assign. A fixed row's note block is removed;
    # a repeat failure rewrites that block.
    "sheets": Capabilities(
        writes=frozenset({K.COMMENT, K.SET_FIELD, K.MOVE_STATUS, K.REMOVE_NOTE, K.UPDATE_COMMENT}),
        owners=frozenset(), comment_resolution=K.REMOVE_NOTE, keeps_history=False),
}
