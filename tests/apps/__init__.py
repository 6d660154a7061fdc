"""Sample applications run as subprocesses by the integration tests."""
