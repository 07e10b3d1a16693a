"""A pod as a device: flashing it, pulling its own log, pairing two pods' pulled sets."""
