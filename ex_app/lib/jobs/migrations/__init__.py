"""Alembic migrations of the job database (a package so that setuptools ships them)."""
