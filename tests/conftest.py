"""Fixtures shared across test folders: a real PostgreSQL server (see ``_pg.py``)."""

from _pg import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]
