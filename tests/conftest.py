"""Fixtures shared across test folders: a real PostgreSQL server (see ``_pg.py``)."""

import sys
from pathlib import Path

# Helpers beside this file stay importable under --import-mode=importlib (appended: no shadowing).
sys.path.append(str(Path(__file__).parent))

from _pg import pg_readme_url, pg_server, pg_url  # noqa: E402

__all__ = ["pg_readme_url", "pg_server", "pg_url"]
