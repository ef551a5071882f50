"""Where facts_factories lived before unit tests mirrored the source tree; it is now
tests/unit/plugins/plugin_utils/facts_factories.py. Kept so that unit tests written on other
branches before the move still import after their merge; delete it once none imports it."""
# pylint: disable=wildcard-import,unused-wildcard-import
from .plugins.plugin_utils.facts_factories import *  # noqa: F401,F403
