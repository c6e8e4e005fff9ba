"""Storage: sqlmodel tables, engines and Alembic migrations for SQLite and PostgreSQL."""
