"""The pod's log after a boot (firmware/logbook.py): its files read back, numbering on from them.

main.py opens the log with `open_log` and drops this module again (its RAM back);
logread.py uses its readers when a PC asks.
"""

import binascii
import os
import struct

from logbook import HEAD, MAGIC, MAX_PAYLOAD, PULLED, SET, TAIL, Log


def read_record(f, buf):
    """Read the next record of an open log file into buf (at least HEAD + MAX_PAYLOAD + TAIL
    bytes); its length, or 0 at the end of the file or at a torn or damaged record."""
    mv = memoryview(buf)
    if f.readinto(mv[0:HEAD]) != HEAD or buf[0] != MAGIC:
        return 0
    n = HEAD + buf[1] + TAIL
    if f.readinto(mv[HEAD:n]) != n - HEAD:
        return 0
    crc = binascii.crc32(mv[1:n - TAIL]) & 0xFFFFFFFF
    if struct.unpack_from("<I", buf, n - TAIL)[0] != crc:
        return 0
    return n


def segments(path):
    """The log's file names, oldest first."""
    try:
        names = os.listdir(path)
    except OSError:
        return []
    names = [n for n in names if len(n) == 10 and n[6] == "." and n[:6].isdigit()]
    names.sort()
    return names


def size(path):
    """A file's size in bytes (0 if it is gone)."""
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def _last(path, buf):
    """(boot, seq) of a file's last whole record, or None."""
    last = None
    try:
        with open(path, "rb") as f:
            while read_record(f, buf):
                last = struct.unpack_from("<HI", buf, 3)
    except OSError:
        pass
    return last


def open_log(path, cap_kb=0):
    """The log in folder `path` after a boot: its files counted, numbering, boot counter and
    record sequence on from the last record that survived (a torn tail is simply not read)."""
    log = Log(path, cap_kb)
    try:
        os.mkdir(path)
    except OSError:
        pass  # it exists (a missing parent or a read-only flash shows at the first write)
    names = segments(path)
    for name in names:
        log.used += size(path + "/" + name)
    if names:
        log.no = int(names[-1][:6]) + 1  # never a number used before
    for name in names:  # a marker whose set is gone (a cut while making room) must not mark a later set
        if name[6:] == PULLED and name[:6] + SET not in names:
            try:
                os.remove(path + "/" + name)
            except OSError:
                pass
    scratch = bytearray(HEAD + MAX_PAYLOAD + TAIL)
    for name in reversed(names):
        last = _last(path + "/" + name, scratch) if name[6:] != PULLED else None
        if last is not None:
            log.boot = (last[0] + 1) & 0xFFFF
            log.seq = last[1] + 1
            break
    return log
