"""The Agent contract and the built-in agent kinds (http, python, template)."""
