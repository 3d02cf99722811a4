"""flagward: a self-hosted feature-management server that speaks LaunchDarkly's REST API v2 and SDK protocol.

Layers, from the inside out (import-linter enforces the direction):

- ``flagward.domain``: pure Python. Flags, environments, approval requests, the rules that govern change,
  the evaluator. It imports no framework and never touches a database.
- ``flagward.services``: one function per use case. Each takes its dependencies explicitly, owns its
  unit of work (the only place a transaction is committed) and returns domain data.
- ``flagward.storage`` / ``flagward.streaming``: adapters implementing the ports in
  ``flagward.services.ports`` (SQLAlchemy 2 on SQLite or PostgreSQL; SDK fan-out in memory or over
  PostgreSQL LISTEN/NOTIFY).
- ``flagward.http`` / ``flagward.cli``: thin edges. They parse input, call one service function and map
  the result (or the error) to the wire.
- ``flagward.bootstrap``: the composition root; the only module that imports everything.

Storage is synchronous. Every write is a short read-modify-write transaction whose isolation we control
(``BEGIN IMMEDIATE`` on SQLite, row locks on PostgreSQL); SQLAlchemy's sync API with psycopg 3 and the
stdlib sqlite3 driver is the most mature path for both, keeps service functions plain functions that unit
tests call directly, and FastAPI runs sync handlers on its thread pool. The SDK streaming edge is async,
because it must hold thousands of idle connections per process; it never touches the database on the
hot path.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
