"""The rule set in force, re-read when a rule file changes; a broken edit never unloads good rules."""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from baton.rules import RuleFileError, RuleSet, load_rule_set

log = structlog.get_logger()


class LiveRules:
    def __init__(self, files: Callable[[], list[Path]]) -> None:
        self._files = files
        self._stamp: tuple[tuple[str, int, int], ...] = ()
        self._rules: RuleSet | None = None
        self.last_error: RuleFileError | None = None
        self._lock = threading.Lock()  # sources run on one thread per tool

    def current(self) -> RuleSet:
        """The rules in force; raises RuleFileError only when no good rule set was ever loaded."""
        with self._lock:
            return self._current()

    def _current(self) -> RuleSet:
        stamp = self._fingerprint()
        if stamp != self._stamp or self._rules is None:
            try:
                rules = load_rule_set(self._files())
            except RuleFileError as error:
                if stamp != self._stamp:
                    log.error("rules.reload_failed", problems=[str(p) for p in error.problems],
                              kept_version=self._rules.version if self._rules else None)
                self._stamp = stamp
                self.last_error = error
                if self._rules is None:
                    raise
                return self._rules
            if self._rules is not None:
                log.info("rules.reloaded", version=rules.version, previous=self._rules.version)
            self._rules, self._stamp, self.last_error = rules, stamp, None
        return self._rules

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        stamp = []
        for path in self._files():
            try:
                info = path.stat()
                stamp.append((str(path), info.st_mtime_ns, info.st_size))
            except OSError:
                stamp.append((str(path), -1, -1))
        return tuple(stamp)
