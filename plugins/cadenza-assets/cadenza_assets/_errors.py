"""The one exception worker code raises on purpose: this file cannot be optimized.

It never leaves the worker: :func:`~cadenza_assets._jobs.run_job` turns it
into the file's report entry, so its message is written for the report
reader (what is wrong with the file, and what to do about it).
"""

from __future__ import annotations


class AssetError(Exception):
    """A file is unreadable, corrupt or of a kind this plugin does not optimize."""
