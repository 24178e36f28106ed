"""The metadata database (SQLAlchemy 2.x): models, sessions and Alembic migrations.

SQLite is the embedded default; PostgreSQL (or anything SQLAlchemy speaks) by URL.
"""
