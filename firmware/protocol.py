"""Serial line protocol v1, pod side: every line is `$CW1,seq,t_ms,TYPE,...*CRC` + newline.

See PROTOCOL.md. Text so a person can watch it in any terminal; the sequence
number shows gaps and reboots, the CRC-32 (8 hex digits) shows corruption.
"""

import binascii

PROTO = "CW1"
PREFIX = "$" + PROTO + ","
# line types
HELLO = "H"
EVENT = "E"
RAW = "R"
STATUS = "S"
OK = "OK"
ERR = "ERR"
DROP = "D"
CUE = "C"  # a cue the pod gave (LED/buzzer): heel, fade or log_full
LOG = "L"  # a set or boot in the pod's log (reply to `log`)
RECORD = "P"  # one record of the pod's log (reply to `pull`)
SEQ_MOD = 65536


def crc_hex(text):
    """CRC-32 of the text between '$' and '*', as 8 lower-case hex digits."""
    try:
        crc = binascii.crc32(text)  # MicroPython takes a str as it is: no bytes copy
    except TypeError:  # CPython wants bytes
        crc = binascii.crc32(text.encode())
    return "%08x" % (crc & 0xFFFFFFFF)


# the line types that also go into the pod's log on flash (logbook.py): events, cues, dropped samples
LOGGED = "ECD"


class Encoder:
    """Numbers and writes protocol lines to a stream (the pod's stdout), and events, cues and
    drops into the pod's log (a logbook.Log, or None)."""

    def __init__(self, out, log=None):
        self.out = out
        self.log = log
        self.seq = 0
        self.lines = 0

    def line(self, t_ms, kind, payload):
        # few temporary objects: this runs on the pod for every event
        if payload:
            body = "CW1,%d,%d,%s,%s" % (self.seq, t_ms, kind, payload)
        else:
            body = "CW1,%d,%d,%s" % (self.seq, t_ms, kind)
        self.out.write("$%s*%s\n" % (body, crc_hex(body)))
        self.seq = (self.seq + 1) % SEQ_MOD
        self.lines += 1
        if self.log is not None and kind in LOGGED:
            self.log.add(kind, t_ms, payload)
