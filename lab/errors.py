"""The lab's one error type: the CLI prints it as one line and exits 2."""


class LabError(RuntimeError):
    """A user-facing problem: unknown node, lab not up, not root, a failed step."""
