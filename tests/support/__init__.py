"""Real servers and waiting helpers shared by the test suite.

``waiting`` polls a condition with a deadline, ``mongo_server`` runs a SecantusDB daemon, ``otlp_receiver``
receives OTLP logs over gRPC and HTTP, and ``fixtures`` exposes them as pytest fixtures.
"""
