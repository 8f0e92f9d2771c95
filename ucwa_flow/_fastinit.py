"""Building a frozen, slotted dataclass without its ``__init__``: for records made per message.

A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__`` (its own
``__setattr__`` refuses), and that call is slow: about 0.1 us a field, 1 us for a record
of nine fields, where a plain class's assignments cost a tenth of it. The engine makes a
few such records for every message (the change, the message to send, its outcome), so
:func:`builder` gives a faster way to make one, with the same result:

the builder makes an instance of a *twin* class, a plain class with the same ``__slots__``
(so the same memory layout), assigns every field to it, then makes it an instance of the
dataclass (``__class__`` assignment, which Python allows between classes of one layout).
What comes out is an ordinary instance of the dataclass: equal to, hashing and printing as
the one its constructor makes, and frozen from then on.

The builder takes every field, positionally and in declaration order: defaults are not
applied (each field is an argument), and a class with ``__post_init__``, a field outside
``__init__`` or a keyword-only field is refused.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["builder"]

T = TypeVar("T")


def builder(cls: type[T]) -> Callable[..., T]:
    """A function ``build(field1, field2, ...)`` making an instance of ``cls`` (a frozen,
    slotted dataclass of plain fields) as ``cls(field1, field2, ...)`` would."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__") or cls.__bases__ != (object,):
        raise TypeError(f"{cls.__name__}: only a dataclass of its own fields can be built")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if any(not f.init or f.kw_only for f in fields):
        raise TypeError(f"{cls.__name__}: a field outside __init__, or keyword-only")
    names = [f.name for f in fields]
    # the generated code's own names start with "_": no field can shadow them
    if any(not n.isidentifier() or keyword.iskeyword(n) or n.startswith("_") for n in names):
        raise TypeError(f"{cls.__name__}: unexpected field names {names}")
    twin = type(f"_{cls.__name__}Fields", (), {"__slots__": cls.__dict__["__slots__"]})
    arguments = ", ".join(names)
    body = "".join(f"    _made.{name} = {name}\n" for name in names)
    source = (
        f"def build({arguments}):\n"
        "    _made = _new(_twin)\n"
        f"{body}"
        "    _made.__class__ = _cls\n"
        "    return _made\n"
    )
    namespace: dict[str, Any] = {"_new": object.__new__, "_twin": twin, "_cls": cls}
    exec(source, namespace)  # the source is made above, from the field names
    build: Callable[..., T] = namespace["build"]
    build.__qualname__ = build.__name__ = f"build_{cls.__name__}"
    return build
