"""Sample sources: something that fills one ring slot per sample.

A board uses a sensor driver (see the drivers and boards/); the unix port and
tests use ReplaySource, which plays a raw v1 recording with its own timestamps
so recorded data replays exactly.
"""

from ring import SLOT


class ReplaySource:
    """Plays a raw v1 CSV file. `speed` 1 = real time, 0 = as fast as the loop runs."""

    def __init__(self, path, speed=1):
        self.path = path
        self.speed = speed
        self.done = False
        self.meta = {}
        self._f = open(path)
        self._map = None
        while True:
            line = self._f.readline()
            if not line:
                raise ValueError("replay file %s has no header row" % path)
            line = line.strip()
            if not line:
                continue
            if line[0] == "#":
                kv = line[1:].split("=", 1)
                if len(kv) == 2:
                    self.meta[kv[0].strip()] = kv[1].strip()
                continue
            cols = [c.strip() for c in line.split(",")]
            break
        if self.meta.get("calfwalk_raw") != "1":
            raise ValueError("replay file %s is not calfwalk raw v1" % path)
        self.sensor = self.meta.get("sensor", "imu")
        self.rate_hz = int(self.meta.get("rate_hz", "100"))
        self.foot = self.meta.get("foot", "left")
        # for each slot column, its index in the file's rows (-1: not recorded)
        self._map = [cols.index(c) if c in cols else -1 for c in SLOT[1:]]
        self._t0 = None
        self._next = self._read_row()

    def _read_row(self):
        while True:
            line = self._f.readline()
            if not line:
                self._f.close()
                return None
            if line.strip():  # blank lines are allowed, as in the host's reader
                return [int(v) for v in line.split(",")]

    def due(self, elapsed_ms):
        """True if the next recorded sample is due after elapsed_ms of replay."""
        row = self._next
        if row is None:
            self.done = True
            return False
        if self._t0 is None:
            self._t0 = row[0]
        if self.speed <= 0:
            return True
        return (row[0] - self._t0) <= elapsed_ms * self.speed

    def read_into(self, buf, i):
        """Fill buf[i:i+WIDTH] with the next sample (t_ms from the file)."""
        row = self._next
        buf[i] = row[0]
        m = self._map
        for k in range(9):
            j = m[k]  # type: ignore[index]  # _map is set once the header is read
            buf[i + 1 + k] = row[j] if j >= 0 else 0
        self._next = self._read_row()
