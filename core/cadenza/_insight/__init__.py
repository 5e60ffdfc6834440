"""Offline analyses of journaled runs: the report and the simulator."""
