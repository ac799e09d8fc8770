"""The one error bad input raises."""

# Enough of a value to recognise it; a 100 kB value is not echoed whole.
SHOWN = 80


def shown(value: str) -> str:
    """A value as one printable line: repr escapes control characters and undecodable bytes."""
    text = repr(value[:SHOWN])
    return text if len(value) <= SHOWN else f"{text}... ({len(value)} characters)"


class UsageError(Exception):
    """Bad input. Its message is one line naming the variable, the value and what is accepted.

    A secret's value is never shown, not even a part of it.
    """

    def __init__(self, var: str, value: str, problem: str, accepted: str, secret: bool = False):
        self.var, self.value, self.problem, self.accepted, self.secret = var, value, problem, accepted, secret
        super().__init__(f"{var}={'(hidden)' if secret else shown(value)}: {problem}; accepted: {accepted}")
