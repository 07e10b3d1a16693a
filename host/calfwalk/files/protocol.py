"""Serial protocol v1, host side: parse pod lines and check the stream (see PROTOCOL.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from calfwalk import firmware

# the pod's own definitions: one format, one checksum
_fw = firmware.load("protocol")
PREFIX = _fw.PREFIX
SEQ_MOD = _fw.SEQ_MOD
crc_hex = _fw.crc_hex
TYPES = (_fw.HELLO, _fw.STATUS, _fw.EVENT, _fw.RAW, _fw.DROP, _fw.OK, _fw.ERR, _fw.CUE, _fw.LOG, _fw.RECORD)
CUE_KINDS = ("heel", "fade", "log_full")


def encode(seq: int, t_ms: int, kind: str, payload: str = "") -> str:
    """One protocol line without the newline (for fake pods in tests and tools)."""
    body = f"CW1,{seq % SEQ_MOD},{t_ms},{kind}" + (f",{payload}" if payload else "")
    return f"${body}*{crc_hex(body)}"


@dataclass
class Line:
    """A good protocol line."""

    seq: int
    t_ms: int
    kind: str
    fields: list

    def kv(self) -> dict:
        """key=value fields as a dict of str (non key=value fields are skipped)."""
        out = {}
        for f in self.fields:
            k, sep, v = f.partition("=")
            if sep:
                out[k] = v
        return out


class Corrupt(ValueError):
    """A line that looks like protocol but fails its checksum or shape."""


def parse(text: str):
    """Parse one received line. Returns (noise_text, Line|None); raises Corrupt.

    noise_text is whatever came before the protocol marker ('' if none); if there
    is no marker at all the whole text is noise and Line is None.
    """
    i = text.rfind(PREFIX)
    if i < 0:
        return text, None
    noise, body = text[:i], text[i + 1:]
    star = body.rfind("*")
    if star < 0:
        raise Corrupt("no checksum")
    crc = body[star + 1:].strip()
    body = body[:star]
    if crc != crc_hex(body):
        raise Corrupt("checksum mismatch")
    parts = body.split(",")
    if len(parts) < 4:
        raise Corrupt("too few fields")
    try:
        seq = int(parts[1])
        t_ms = int(parts[2])
    except ValueError:
        raise Corrupt("bad seq or time") from None
    if parts[3] not in TYPES or not 0 <= seq < SEQ_MOD:
        raise Corrupt(f"unknown line type {parts[3]!r}")
    return noise, Line(seq, t_ms, parts[3], parts[4:])


@dataclass
class StreamStats:
    """What one pod's stream looked like: good lines, and every kind of trouble."""

    lines: int = 0
    noise: int = 0
    corrupt: int = 0
    gaps: int = 0  # lines missing according to seq (corrupt lines are counted as corrupt only)
    gap_events: int = 0
    reboots: int = 0
    out_of_order: int = 0
    duplicates: int = 0  # a line seen twice (a damaged or replayed file): the copy is not used
    noise_samples: list = field(default_factory=list)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["noise_samples"] = list(self.noise_samples[:5])
        return d

    def trouble(self) -> str:
        parts = [f"{n} {name}" for name, n in (("noise", self.noise), ("corrupt", self.corrupt),
                 ("missing", self.gaps), ("reboot", self.reboots)) if n]
        return ", ".join(parts) if parts else "clean"


class StreamChecker:
    """Feeds lines of one pod; counts noise, corruption, gaps and reboots; returns good lines."""

    def __init__(self):
        self.stats = StreamStats()
        self.expected = None
        self.corrupt_since_good = 0
        self.rebooted = False  # set for the line that starts a new pod session
        self._recent = {}  # seq -> text of the last lines taken, to know a copy of one again
        self.last_t = None  # the pod clock (ms since boot) of the last good line

    def feed(self, text: str):
        """Return the Line if good, else None. Never raises."""
        self.rebooted = False
        st = self.stats
        try:
            noise, line = parse(text)
        except Corrupt:
            st.corrupt += 1
            self.corrupt_since_good += 1  # its seq will look missing: not counted twice
            return None
        if noise.strip():
            st.noise += 1
            if len(st.noise_samples) < 20:
                st.noise_samples.append(noise.strip()[:80])
        if line is None:
            return None
        restart = line.seq == 0 or (line.kind == "H" and line.seq < 4)  # a reboot looks like this
        if not restart and self._recent.get(line.seq) == text and self.expected is not None and \
                (self.expected - line.seq) % SEQ_MOD <= 256:
            st.duplicates += 1  # the same line again, behind the stream: a copy, not news
            return None
        if restart:
            self._recent.clear()
        elif len(self._recent) >= 256:
            self._recent.pop(next(iter(self._recent)))
        self._recent[line.seq] = text
        st.lines += 1
        if self.expected is not None and line.seq != self.expected:
            if line.seq == 0 or (line.kind == "H" and line.seq < 4):
                st.reboots += 1
                self.rebooted = True
            else:
                missing = (line.seq - self.expected) % SEQ_MOD
                if missing < SEQ_MOD // 2:
                    missing -= min(missing, self.corrupt_since_good)
                    if missing:
                        st.gaps += missing
                        st.gap_events += 1
                elif self.last_t is not None and line.t_ms < self.last_t:
                    # behind in sequence and in the pod's own clock: a pod that restarted and whose
                    # first lines were lost (a port reopened late, or a file damaged there)
                    st.reboots += 1
                    self.rebooted = True
                    self._recent.clear()
                    self._recent[line.seq] = text
                else:
                    st.out_of_order += 1
        self.corrupt_since_good = 0
        self.expected = (line.seq + 1) % SEQ_MOD
        self.last_t = line.t_ms
        return line


def event_from_line(line: Line, foot: str):
    """A host event dict from an E line, or None if it is not a known event."""
    from calfwalk.model import event_fields

    if line.kind != "E" or not line.fields:
        return None
    fields = event_fields()
    name = line.fields[0]
    if name not in fields:
        return None
    from calfwalk.model import OPTIONAL_FIELDS

    kv = line.kv()
    try:
        t = int(kv["t"])
        # a field an older pod does not send is unknown, not a broken line
        values = [int(kv[k]) if k in kv or k not in OPTIONAL_FIELDS else None for k in fields[name]]
    except (KeyError, ValueError):
        return None
    from calfwalk.model import event_dict

    return event_dict(name, foot, t, values)


def cue_from_line(line: Line, foot: str):
    """A host cue dict from a C line (a cue the pod gave), or None if it is not a known cue.

    {"type": "cue", "kind": "heel"|"fade", "foot", "t_ms"} plus the line's integer
    fields (heel: onset_ms; fade: step_no, heel_mm, open_mm; both: led, buzzer).
    """
    if line.kind != _fw.CUE or not line.fields or line.fields[0] not in CUE_KINDS:
        return None
    cue = {"type": "cue", "kind": line.fields[0], "foot": foot}
    try:
        for k, v in line.kv().items():
            cue["t_ms" if k == "t" else ("onset_ms" if k == "onset" else k)] = int(v)
    except ValueError:
        return None
    if "t_ms" not in cue:
        return None
    return cue
