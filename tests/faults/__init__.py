"""The fault-injection suite: real applications, real servers, faults injected, figures reported."""
