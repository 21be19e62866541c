"""Error types whose class decides the CLI's exit code.

Keeping the mapping in the type (not in string matching at the top level) means every
stage can fail in the user's terms and the CLI, the DAGs and tests agree on the outcome.
Messages name columns, fields and rules; they never carry a real value from the data.
"""

from __future__ import annotations


class SynthprivError(Exception):
    """Base class: anything else that stops a release (exit 1)."""

    exit_code = 1


class InputError(SynthprivError):
    """The spec or the source is unusable (exit 2). Raised before any budget is spent."""

    exit_code = 2


class SpecError(InputError):
    """The release spec is invalid; carries every problem found, each naming its field."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid release spec {path}:\n{lines}")


class BlockedError(SynthprivError):
    """A gate, the PII policy, the approval rule or the budget refused the release (exit 3)."""

    exit_code = 3


class BudgetExceededError(BlockedError):
    """The release would pass the dataset's privacy-budget cap."""
