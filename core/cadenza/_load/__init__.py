"""Files and dicts -> Workflow: the native and seed formats, located problems, load-time checks."""
