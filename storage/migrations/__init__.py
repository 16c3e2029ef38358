"""Alembic migrations of the storage schema (`storage.schema`); run them with `aa-jak db upgrade`.

A schema change is a change to `storage/schema.py` plus a new revision in `versions/`, written
from the repository root with the `alembic` command (configured in pyproject.toml) against a
database already at head, then reviewed by hand:

    AA_JAK_DATABASE_URL=sqlite:///var/scratch.db aa-jak db upgrade
    alembic -x url=sqlite:///var/scratch.db revision --autogenerate --rev-id 0002 -m "what changes"

The storage tests fail while the models and the migrations disagree.
"""
