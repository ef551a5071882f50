"""The lab's own tests share the suite's lab fixture and hypothesis profile (tests/conftest.py)."""

from tests.conftest import running_lab  # noqa: F401  (a fixture: re-exported so pytest finds it here)
