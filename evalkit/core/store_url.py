"""Where a store lives: a SQLite path or a ``postgresql://`` URL, and its masked form.

Credentials come only from the URL, ``PGPASSWORD``/``~/.pgpass`` or libpq's
environment; whatever is printed (``runs``, the results config, every error)
goes through ``mask`` first so a password never reaches a log or the site.
"""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

PG_SCHEMES = ("postgresql://", "postgres://")
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*):[^@\s]*@")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def is_postgres(target: str | os.PathLike[str]) -> bool:
    return str(target).startswith(PG_SCHEMES)


def mask(text: str | os.PathLike[str]) -> str:
    """``text`` with every password in a URL or ``password=...`` pair replaced by ``***``."""
    text = _URL_PASSWORD.sub(r"\1:***@", str(text))
    text = _KV_PASSWORD.sub(r"\1***", text)
    secret = os.environ.get("PGPASSWORD")
    if secret and len(secret) >= 3:
        text = text.replace(secret, "***")
    return text


def url_password(url: str) -> str | None:
    return urlsplit(url).password


def without_password(url: str) -> str:
    """The URL as it may be stored in a run's config: no password at all."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))
