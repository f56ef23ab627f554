"""The article store (SQLAlchemy 2; SQLite embedded, PostgreSQL distributed).

``Store`` (``store.store``) writes pages and answers the dedup look-ups (``store.candidates``);
its other parts share its database: the feed read model (``store.feed_reader.FeedReader``),
the failure log (``store.failure_log.FailureLog``) and the conditional-GET state
(``store.fetch_state.FetchStates``). ``store.database.Database`` is the engine and sessions
they share; ``store.staging`` is distributed mode's staging table.
"""

from newsdedup.store.failure_log import FailureLog
from newsdedup.store.feed_reader import FeedReader
from newsdedup.store.fetch_state import FetchStates
from newsdedup.store.store import Applied, Store

__all__ = ["Applied", "FailureLog", "FeedReader", "FetchStates", "Store"]
