"""A fresh PostgreSQL database beside the caller's, for a bench: `<name>_<suffix>` on DATABASE_URL's server, created
through the server's maintenance database (DATABASE_URL's own need not exist), dropped and made again on each run."""

from urllib.parse import urlsplit, urlunsplit


def _admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def fresh_postgres_database(url: str, suffix: str) -> str:
    """Answers the URL of an empty `<DATABASE_URL's name>_<suffix>` database on the same server."""
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.strip('/') or 'postgres'}_{suffix}"
    with psycopg.connect(_admin_url(url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_postgres_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.strip("/")
    with psycopg.connect(_admin_url(url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
