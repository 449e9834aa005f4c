"""The Starlette application, its routes, templates and static files."""

from starlette.convertors import IntegerConvertor, register_url_convertor


class BoundedIntegerConvertor(IntegerConvertor):
    """``{id:int}`` matches at most nine digits: every id fits PostgreSQL's integer, so a
    path like /api/v1/redemptions/99999999999999 is a plain 404, never a database error."""

    regex = "[0-9]{1,9}"


# Registered before any route module is imported (they import ``web`` first).
register_url_convertor("int", BoundedIntegerConvertor())
