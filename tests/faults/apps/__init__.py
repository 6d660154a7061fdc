"""Applications the fault-injection cases run as subprocesses (``python tests/faults/apps/<app>.py``)."""
