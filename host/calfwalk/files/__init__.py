"""File formats: raw sample files (rawfile), the pod's wire protocol (protocol), session logs (session)."""
