"""Model instances from hand-written SQL on the request hot paths, where building the query costs more than
running it (the ORM's compiling of a select_related query takes longer than PostgreSQL's answer; NOTES.md)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from django.db import connections
from django.db.models import Field, Model


def instance_from_db[M: Model](model: type[M], *, using: str, values: dict[str, Any]) -> M:
    """An instance with only these attnames loaded (the rest deferred, read on first access), as the ORM makes one.

    Give only values whose database form is already the Python one on every backend (ints, floats, strings): no
    converters run here. Columns that need them (dates, booleans, UUIDs on SQLite) come through Model.objects.raw.
    """
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(using, names, [values[name] for name in names])


def quoted(model: type[Model], field: str | None = None, *, using: str = "default") -> str:
    """A model's table, or one of its columns as table.column, quoted for the database."""
    quote = connections[using].ops.quote_name
    table = quote(model._meta.db_table)
    if field is None:
        return table
    column = cast(Field, model._meta.get_field(field)).column
    return f"{table}.{quote(str(column))}"


def lock_clause(model: type[Model], *, using: str = "default") -> str:
    """FOR UPDATE OF the model's table where the database has row locks (not SQLite, which locks it whole)."""
    features = connections[using].features
    if features.has_select_for_update_of:
        return f" FOR UPDATE OF {quoted(model, using=using)}"
    return " FOR UPDATE" if features.has_select_for_update else ""


def row_insert(instance: Model, *, using: str = "default") -> None:
    """INSERT the new instance in one written-out statement (auto_now_add and defaults as save() fills them) and
    set its primary key. No save signals are sent: the hot paths that use this have no receivers."""
    model = type(instance)
    connection = connections[using]
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, using), values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = using


@lru_cache(maxsize=16)
def _insert_sql(model: type[Model], using: str) -> str:
    quote = connections[using].ops.quote_name
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(str(field.column)) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return (  # names from the model's metadata only; the values go as parameters
        f"INSERT INTO {quoted(model, using=using)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"RETURNING {quoted(model, model._meta.pk.name, using=using)}"
    )


def row_update(instance: Model, *, fields: tuple[str, ...], using: str = "default") -> None:
    """UPDATE these fields of a saved instance in one written-out statement (as save(update_fields=…) would)."""
    model = type(instance)
    connection = connections[using]
    chosen = [cast(Field, model._meta.get_field(name)) for name in fields]
    values = [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in chosen]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(model, fields, using), [*values, instance.pk])


@lru_cache(maxsize=32)
def _update_sql(model: type[Model], fields: tuple[str, ...], using: str) -> str:
    quote = connections[using].ops.quote_name
    columns = [str(cast(Field, model._meta.get_field(name)).column) for name in fields]
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    return (  # names from the model's metadata only; the values go as parameters
        f"UPDATE {quoted(model, using=using)} SET {assignments} "  # noqa: S608
        f"WHERE {quoted(model, model._meta.pk.name, using=using)} = %s"
    )
