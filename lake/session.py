"""Every connection and Snowpark Session the machine side opens comes from here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lake.config import ConfigError, Settings
from lake.local.stack import Endpoints

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection
    from snowflake.snowpark import Session


def connection_kwargs(
    settings: Settings, endpoints: Endpoints | None = None, schema: str | None = None
) -> dict[str, Any]:
    """snowflake-connector-python keyword arguments for the configured target (in
    ``schema`` when given)."""
    names = settings.names
    in_schema = {"schema": schema} if schema else {}
    if settings.target == "local":
        if endpoints is None:
            from lake.output import lake_command

            raise ConfigError(f"the local target needs running servers: start them with `{lake_command()} up`")
        return {
            # fakesnow accepts any user and password; these are not credentials
            "user": "fake",
            "password": "snow",  # pragma: allowlist secret
            "account": "fakesnow",
            "host": endpoints.snowflake_host,
            "port": endpoints.snowflake_port,
            "protocol": "http",
            "database": names.database,
            **in_schema,
            # the local server rolls back this client's open transaction as soon as its
            # process is gone (lake/local/compat/sessions.py)
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False, "LAKE_CLIENT_PID": os.getpid()},
            "login_timeout": 30,
            # socket_timeout bounds one HTTP attempt; the default (60 s) would cut off,
            # and then re-send, a long load. No network_timeout: the connector also uses
            # it as a query timeout. Server-side failures come back as failed queries
            # (see lake/local/compat/sessions.py), so nothing is retried.
            "socket_timeout": 3600,
        }
    sf = settings.snowflake
    if sf is None:
        raise ConfigError("target 'snowflake' needs SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and LAKE_LANDING_URL")
    kwargs: dict[str, Any] = {
        "account": sf.account,
        "user": sf.user,
        "role": sf.role,
        "warehouse": sf.warehouse,
        "database": names.database,
        **in_schema,
        "authenticator": sf.authenticator,
        "application": "institutional-client-lake",
    }
    if sf.authenticator == "snowflake_jwt":
        if sf.private_key_file is None:
            raise ConfigError("authenticator 'snowflake_jwt' needs SNOWFLAKE_PRIVATE_KEY_FILE (a PKCS#8 key file)")
        if not sf.private_key_file.expanduser().is_file():
            raise ConfigError(
                f"SNOWFLAKE_PRIVATE_KEY_FILE (snowflake.private_key_file): no such file: {sf.private_key_file} "
                "(the key pair's PKCS#8 private key)"
            )
        kwargs["private_key_file"] = str(sf.private_key_file.expanduser())
        if passphrase := os.environ.get("SNOWFLAKE_PRIVATE_KEY_FILE_PWD"):
            kwargs["private_key_file_pwd"] = passphrase
    elif sf.authenticator == "snowflake":
        password = os.environ.get("SNOWFLAKE_PASSWORD")
        if not password:
            raise ConfigError("authenticator 'snowflake' needs the SNOWFLAKE_PASSWORD environment variable")
        kwargs["password"] = password
    return kwargs


def connect(settings: Settings, endpoints: Endpoints | None = None) -> SnowflakeConnection:
    import snowflake.connector

    return snowflake.connector.connect(**connection_kwargs(settings, endpoints))


@contextmanager
def connection(settings: Settings, endpoints: Endpoints | None = None) -> Iterator[SnowflakeConnection]:
    """A connection for the length of the block (closed however the block ends)."""
    conn = connect(settings, endpoints)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def snowpark_session(
    settings: Settings, endpoints: Endpoints | None = None, schema: str | None = None
) -> Iterator[Session]:
    """A Snowpark Session for the length of the block."""
    session = open_session(settings, endpoints, schema)
    try:
        yield session
    finally:
        session.close()


def open_session(settings: Settings, endpoints: Endpoints | None = None, schema: str | None = None) -> Session:
    """A Snowpark Session on the configured target (in ``schema`` when given)."""
    from snowflake.snowpark import Session

    return Session.builder.configs(connection_kwargs(settings, endpoints, schema)).create()


@contextmanager
def procedure_session(settings: Settings, endpoints: Endpoints | None, procedure: str) -> Iterator[Any]:
    """The Session a stored procedure's handler gets, for calling it on this machine: in
    the database and schema the procedure is created in, refusing what an owner's-rights
    procedure may not run (lake/local/strict.py)."""
    from lake import deploy
    from lake.local import strict

    schema = settings.names.schemas[deploy.procedure(procedure).layer]
    session = open_session(settings, endpoints, schema)
    try:
        yield strict.owners_rights(session, procedure)
    finally:
        session.close()
