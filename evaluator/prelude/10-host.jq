# Helpers for the host, daemon and daemon-file policies (CIS sections 1-3).
