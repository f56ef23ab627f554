"""The article store (SQLAlchemy 2; SQLite embedded, PostgreSQL distributed)."""

from store.store import Applied, Store

__all__ = ["Applied", "Store"]
