"""Preallocated sample ring: the sampler fills it, the main loop drains it."""

from array import array

# One slot, the one place its layout is written: the raw v1 columns of every sensor kind are
# slices of it (the host reads them from here), ReplaySource fills it by these names, and the
# app reads slot + k for SLOT[k] (1-3 acceleration, 4-6 gyro, 7-9 pads; a column a pod lacks is 0).
SLOT = ("t_ms", "ax_mg", "ay_mg", "az_mg", "gx_mdps", "gy_mdps", "gz_mdps", "heel", "fore_med", "fore_lat")
WIDTH = 10  # len(SLOT)


def zeros(n):
    """An array of n 32-bit zeros, allocated once at its final size (no temporary list or bytes)."""
    a = array("i", range(n))  # a range has a length: the array is sized up front
    for k in range(n):
        a[k] = 0
    return a


class SampleRing:
    """Fixed-size FIFO of integer sample rows; counts rows dropped when full.

    One producer (the timer callback) and one consumer (the main loop). Each side
    only ever writes its own counter, so a callback that runs between two bytecodes
    of the loop cannot lose an update.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.buf = zeros(capacity * WIDTH)
        self.written = 0  # rows committed (producer only)
        self.read = 0  # rows consumed (consumer only)
        self.dropped = 0  # rows lost to a full ring (producer only)

    @property
    def count(self):
        return self.written - self.read

    def slot(self):
        """Index into buf of the slot to fill, or -1 if full (the row is counted as dropped)."""
        if self.written - self.read >= self.capacity:
            self.dropped += 1
            return -1
        return (self.written % self.capacity) * WIDTH

    def commit(self):
        """Publish the slot filled after slot()."""
        self.written += 1

    def peek(self):
        """Index into buf of the oldest row, or -1 if empty."""
        if self.written == self.read:
            return -1
        return (self.read % self.capacity) * WIDTH

    def pop(self):
        self.read += 1
