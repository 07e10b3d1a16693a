"""Simulated sets and pods: the gait simulator, the firmware on the MicroPython unix port, a stand-in board."""
