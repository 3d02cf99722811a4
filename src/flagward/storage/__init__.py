"""SQLAlchemy 2 adapter: records, mappers, repositories and the unit of work. The only package that
imports SQLAlchemy. SQLite and PostgreSQL run the same code; dialect quirks live in ``engine.py``."""
