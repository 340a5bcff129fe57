"""Connections as the applications make them: asyncpg pools over TCP with a
SCRAM password, one application_name per pool, and the jsonb codec.

asyncpg hands jsonb to Python as a string and refuses a dict ("expected str,
got dict") unless the connection has a codec for it; every pool here gets
one in its init hook, so payloads go in and come out as Python objects.

Connection strings come from the environment: COGNEE_DATABASE_URL (Cognee,
application_name cognee), CLAUDE_DATABASE_URL (claude-context) and
UNIFIED_DATABASE_URL (unified, the shared work: coordination, migration).
"""
import json
import os

import asyncpg

APPLICATION_NAMES = {"cognee": "cognee", "claude": "claude-context", "shared": "unified"}
URL_VARIABLES = {"cognee": "COGNEE_DATABASE_URL", "claude": "CLAUDE_DATABASE_URL",
                 "shared": "UNIFIED_DATABASE_URL"}


async def init_connection(conn):
    """Per-connection setup: jsonb (and json) as Python objects."""
    for typename in ("jsonb", "json"):
        await conn.set_type_codec(typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def url(pool, env=None):
    """The connection string of a pool ("cognee", "claude", "shared")."""
    value = (env or os.environ).get(URL_VARIABLES[pool])
    if not value:
        raise RuntimeError(f"set {URL_VARIABLES[pool]} to connect the {pool} pool")
    return value


async def create_pool(pool, dsn=None, min_size=1, max_size=10, **kwargs):
    """An asyncpg pool for one application, with its application_name and codecs."""
    return await asyncpg.create_pool(dsn or url(pool), min_size=min_size, max_size=max_size,
                                     init=init_connection,
                                     server_settings={"application_name": APPLICATION_NAMES[pool]},
                                     **kwargs)


async def connect(pool, dsn=None, **kwargs):
    """One connection for one application, with its application_name and codecs."""
    conn = await asyncpg.connect(dsn or url(pool),
                                 server_settings={"application_name": APPLICATION_NAMES[pool]}, **kwargs)
    await init_connection(conn)
    return conn
