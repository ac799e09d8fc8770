"""The one error bad input raises."""


class UsageError(Exception):
    """Bad input. Its message is one line naming the variable, the value and what is accepted."""

    def __init__(self, var: str, value: str, problem: str, accepted: str):
        super().__init__(f"{var}={value!r}: {problem}; accepted: {accepted}")
