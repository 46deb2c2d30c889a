"""The store package owns all of evalkit's SQL: runs, samples, metrics, the
generation cache (``core``), the embedding cache (``embeddings``), the schema
and its migrations (``schema``), the two engines (``engines``: SQLite, the
default, and PostgreSQL for a team) and ``evalkit store copy`` (``copy``).

``Store(target)`` opens a store to write (creating and migrating it);
``open_reader(target)`` opens an existing one read-only, for compare,
leaderboards, the site and export.
"""
from __future__ import annotations

import os

from evalkit.core.store_url import is_postgres, mask
from evalkit.store.core import Store
from evalkit.store.schema import SCHEMA_VERSION

__all__ = ["Store", "open_reader", "SCHEMA_VERSION", "is_postgres", "mask"]


def open_reader(target: str | os.PathLike[str]) -> Store:
    """An existing store, read-only: readers never create a file, a folder or a table."""
    return Store(target, readonly=True)
