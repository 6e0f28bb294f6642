"""What a broken rule file produces: every problem, each with its file and key path.

    ConfigError (connectors.errors)   the admin fixes a file; the last good rules keep running
    └── RuleFileError                 `.problems`: every Problem found across all files
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from baton.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one rule file: `where` is a key path like `gate[mql-entry].checks[2].pattern`."""

    file: str
    where: str
    message: str  # what was expected, what was found

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


class RuleFileError(ConfigError):
    """The rule files could not be loaded; `problems` lists everything wrong, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
