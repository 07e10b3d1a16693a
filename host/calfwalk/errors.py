"""The one base of the errors a user can meet: a bad file, a damaged database, a pod that is gone.

Library code raises a subclass and never prints; the CLI alone turns one into a single
line and exit code 2. Anything else that escapes is a bug, and keeps its traceback.
"""


class CalfwalkError(Exception):
    """An error in what the user gave or has, not in calfwalk: its text says what and where."""
