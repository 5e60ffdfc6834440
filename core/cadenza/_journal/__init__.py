"""The event bus, the journal writer, the Store protocol, the SQLite store, and readback
of runs for the command line and the dashboard.
"""
