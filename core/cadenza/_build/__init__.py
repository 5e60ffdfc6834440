"""Workflows written in Python: a builder that hands the loader the same data a YAML file holds."""
