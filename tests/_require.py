"""Missing system tools: a skip on a developer's machine, a failure in CI.

``.ci/run`` installs PostgreSQL and Chromium, so under ``CI`` a test that needs
one of them and cannot find it must fail rather than silently skip.
"""

import os

import pytest


def missing(reason: str) -> None:
    """``pytest.fail`` under ``CI`` (set by the CI runner), else ``pytest.skip``, with ``reason``."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI: {reason}", pytrace=False)
    pytest.skip(reason)
