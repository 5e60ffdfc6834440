"""pluggy: discovering plugins, fencing and checking them, the registry, the built-ins."""
