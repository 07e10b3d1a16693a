"""Three FSR pads in the insole on ADC pins (each in a divider): heel, forefoot medial, forefoot lateral.

Counts are read_u16() values (0..65535, more load = higher with the FSR on the
3V3 side). The detector learns or is told the unloaded and loaded levels.
"""


class FSRPads:
    """Heel, big-toe side and little-toe side pads: machine.ADC-like objects with read_u16()."""

    def __init__(self, heel_adc, med_adc, lat_adc):
        self.heel = heel_adc
        self.med = med_adc
        self.lat = lat_adc

    def read_into(self, buf, i):
        """Write buf[i+7], buf[i+8], buf[i+9] = heel, fore_med, fore_lat counts. Allocates nothing."""
        buf[i + 7] = self.heel.read_u16()
        buf[i + 8] = self.med.read_u16()
        buf[i + 9] = self.lat.read_u16()

    def measure(self, n=50, gap_ms=0):
        """(heel, fore_med, fore_lat) averaged over n readings, gap_ms apart: for calibration on request."""
        if n < 1:
            raise ValueError("measure needs n >= 1 readings")
        sleep_ms = None
        if gap_ms:
            import time

            sleep_ms = getattr(time, "sleep_ms", None) or (lambda ms: time.sleep(ms / 1000))  # CPython
        h = m = lat = 0
        for k in range(n):
            if sleep_ms is not None and k:
                sleep_ms(gap_ms)
            h += self.heel.read_u16()
            m += self.med.read_u16()
            lat += self.lat.read_u16()
        # nearest count (not on the timer path: a sum past 2**30 may allocate here)
        half = n // 2
        return ((h + half) // n, (m + half) // n, (lat + half) // n)
