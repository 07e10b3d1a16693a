"""Preallocated sample ring: the sampler fills it, the main loop drains it."""

from array import array

# one slot: t_ms, ax, ay, az, gx, gy, gz, heel, fore_med, fore_lat
WIDTH = 10


def zeros(n):
    """An array of n 32-bit zeros, without a temporary list of n items on MicroPython."""
    try:
        return array("i", bytes(4 * n))  # MicroPython copies the zeroed bytes as they are
    except TypeError:  # CPython
        return array("i", [0] * n)


class SampleRing:
    """Fixed-size FIFO of integer sample rows; counts rows dropped when full."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.buf = zeros(capacity * WIDTH)
        self.head = 0  # next slot to write
        self.tail = 0  # next slot to read
        self.count = 0
        self.dropped = 0

    def slot(self):
        """Index into buf of the slot to fill, or -1 if full (the row is counted as dropped)."""
        if self.count >= self.capacity:
            self.dropped += 1
            return -1
        return self.head * WIDTH

    def commit(self):
        """Publish the slot filled after slot()."""
        self.head = (self.head + 1) % self.capacity
        self.count += 1

    def peek(self):
        """Index into buf of the oldest row, or -1 if empty."""
        if self.count == 0:
            return -1
        return self.tail * WIDTH

    def pop(self):
        self.tail = (self.tail + 1) % self.capacity
        self.count -= 1
