"""The rule set in force, re-read when a rule file changes; a broken edit never unloads good rules.

A reload goes through the same validation as `baton check` (the loader, then `validate`, which
the composition root supplies: sources, statuses, fields against the config). Any problem —
a rule error or any other exception the loader raises — keeps the last good rules, is logged
once per edit, and shows as `broken` (for /healthz and /metrics) until a good edit replaces it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from baton.rules import Problem, RuleFileError, RuleSet, load_rule_set

log = structlog.get_logger()

Validate = Callable[[RuleSet], Sequence[Problem]]


class LiveRules:
    def __init__(self, files: Callable[[], list[Path]], validate: Validate | None = None) -> None:
        self._files = files
        self._validate = validate or (lambda _rules: ())
        self._stamp: tuple[tuple[str, int, int], ...] = ()
        self._rules: RuleSet | None = None
        self.last_error: RuleFileError | None = None
        self.failed_reloads = 0
        self._lock = threading.Lock()  # sources run on one thread per tool

    @property
    def broken(self) -> bool:
        """The files on disk have problems; the rules in force are the last good ones."""
        return self.last_error is not None

    def current(self) -> RuleSet:
        """The rules in force; raises RuleFileError only when no good rule set was ever loaded."""
        with self._lock:
            return self._current()

    def _current(self) -> RuleSet:
        stamp = self._fingerprint()
        if stamp == self._stamp and self._rules is not None:
            return self._rules
        try:
            rules = self._load()
        except RuleFileError as error:
            if stamp != self._stamp:
                self.failed_reloads += 1
                log.error("rules.reload_failed", problems=[str(p) for p in error.problems],
                          kept_version=self._rules.version if self._rules else None)
            self._stamp, self.last_error = stamp, error
            if self._rules is None:
                raise
            return self._rules
        if self._rules is not None:
            log.info("rules.reloaded", version=rules.version, previous=self._rules.version)
        self._rules, self._stamp, self.last_error = rules, stamp, None
        return self._rules

    def _load(self) -> RuleSet:
        files = self._files()
        try:
            rules = load_rule_set(files)
        except RuleFileError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure to load is a rule problem, not a crash
            where = ", ".join(str(f) for f in files) or "(no rule files)"
            raise RuleFileError([Problem(where, "(loading)",
                                         f"{type(error).__name__}: {error}")]) from None
        problems = list(self._validate(rules))
        if problems:
            raise RuleFileError(problems)
        return rules

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        stamp = []
        for path in self._files():
            try:
                info = path.stat()
                stamp.append((str(path), info.st_mtime_ns, info.st_size))
            except OSError:
                stamp.append((str(path), -1, -1))
        return tuple(stamp)
