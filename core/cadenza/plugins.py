"""Plugins: loading them, inspecting what they registered, and the hook API they target.

:func:`load_plugins` returns a :class:`Plugins` (see docs/hooks.md); a plugin
declares the :data:`HOOK_API_VERSION` it targets, and a project that defines hooks
of its own marks them with :data:`hookspec`. Plugin authors implement hooks with
``cadenza.hookimpl`` and register agent kinds with ``cadenza.AgentFactory``,
both still in :mod:`cadenza`. Executors (``cadenza_executors``) implement
:class:`Executor`; an agent runs work on its own with :func:`executor_for`.
Plugin code logs through :func:`get_logger`, which stays silent until the
application (or the CLI) configures logging.
"""

from __future__ import annotations

from ._errors import DuplicateRegistrationError as DuplicateRegistrationError
from ._errors import PluginError as PluginError
from ._errors import WorkerLostError as WorkerLostError
from ._executors._contract import Executor as Executor
from ._executors._scope import executor_for as executor_for
from ._load._plugin_config import project_config as project_config
from ._logging import get_logger as get_logger
from ._plugins._registry import PluginInfo as PluginInfo
from ._plugins._registry import Plugins as Plugins
from ._plugins._registry import Registration as Registration
from ._plugins._registry import load_plugins as load_plugins
from ._plugins._registry import plugin_config as plugin_config
from ._public import publish as _publish
from ._version import HOOK_API_VERSION as HOOK_API_VERSION
from .hookspecs import hookspec as hookspec

__all__ = [
    "HOOK_API_VERSION",
    "DuplicateRegistrationError",
    "Executor",
    "PluginError",
    "PluginInfo",
    "Plugins",
    "Registration",
    "WorkerLostError",
    "executor_for",
    "get_logger",
    "hookspec",
    "load_plugins",
    "plugin_config",
    "project_config",
]


_publish(globals(), __all__, __name__)
