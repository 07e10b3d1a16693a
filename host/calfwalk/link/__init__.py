"""Talking to pods: the serial transport (transport), finding ports, recording a session, pod commands."""
