"""One run = one nursery tree: the run object and the collaborators it is built from,
the runner that journals it, resume and the step cache.
"""
