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
SEQ_MOD = 65536


def crc_hex(text):
    """CRC-32 of the text between '$' and '*', as 8 lower-case hex digits."""
    return "%08x" % (binascii.crc32(text.encode()) & 0xFFFFFFFF)


class Encoder:
    """Numbers and writes protocol lines to a stream (the pod's stdout)."""

    def __init__(self, out):
        self.out = out
        self.seq = 0
        self.lines = 0

    def line(self, t_ms, kind, payload):
        body = "%s%d,%d,%s" % (PREFIX, self.seq, t_ms, kind)
        if payload:
            body = body + "," + payload
        body = body[1:]
        self.out.write("$" + body + "*" + crc_hex(body) + "\n")
        self.seq = (self.seq + 1) % SEQ_MOD
        self.lines += 1
