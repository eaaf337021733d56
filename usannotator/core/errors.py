"""Errors a user can act on. Their message names the file (when there is one) and the problem."""


class UserError(Exception):
    """A problem with the user's input; shown as one line (CLI) or a dialog (GUI), never a traceback."""

    def __init__(self, message: str, path=None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
