"""Which kind of calfwalk file a path holds, told from its first line (the one file-type sniffer)."""

from __future__ import annotations

from calfwalk.files.session import looks_like_session

RAW_FIRST_LINE = b"#calfwalk_raw=1"
SESSION_PREFIX = b"#calfwalk_session"


def file_kind(path) -> str | None:
    """"session" (its first line may have a byte or two damaged), "raw", or None for anything else.

    OSError (FileNotFoundError included) when the file cannot be read."""
    with open(path, "rb") as fh:
        first = fh.readline(64)
    if first.startswith(SESSION_PREFIX) or looks_like_session(first):
        return "session"
    if first.rstrip(b"\r\n") == RAW_FIRST_LINE:
        return "raw"
    return None
