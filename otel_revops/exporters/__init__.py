"""Exporters: the console (pretty and JSON) and MongoDB."""
