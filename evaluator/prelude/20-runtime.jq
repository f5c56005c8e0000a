# Helpers for the image, runtime, operations and swarm policies (CIS sections 4-7).
