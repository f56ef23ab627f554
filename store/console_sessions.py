"""The web console's logins (table ``console_sessions``): made at login, deleted at logout
or when they expire. Only the SHA-256 of the cookie's secret is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, select

from newsdedup.store.database import Database, utcnow
from newsdedup.store.models import ConsoleSession


@dataclass(frozen=True)
class Login:
    secret: str  # goes into the (signed) cookie, never into the store
    csrf: str  # goes into every form of the pages


def _key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ConsoleSessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, lasts: timedelta) -> Login:
        login = Login(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        now = utcnow()
        with self._db.writer.begin() as connection:
            # Expired logins go as new ones come: the table stays as small as the logins in use.
            connection.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            connection.execute(
                insert(ConsoleSession).values(id=_key(login.secret), csrf=login.csrf, expires_at=now + lasts)
            )
        return login

    def csrf_of(self, secret: str) -> str | None:
        """The login's CSRF token, or None when there is no such login (out, or expired)."""
        with self._db.reading() as session:
            row = session.execute(
                select(ConsoleSession.csrf, ConsoleSession.expires_at).where(
                    ConsoleSession.id == _key(secret)
                )
            ).first()
        if row is None or row.expires_at < utcnow():
            return None
        return str(row.csrf)

    def end(self, secret: str) -> None:
        with self._db.writer.begin() as connection:
            connection.execute(delete(ConsoleSession).where(ConsoleSession.id == _key(secret)))
