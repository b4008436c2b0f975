"""Plain data classes for code the Worker imports, built without generating code.

`dataclasses.dataclass` writes `__init__`, `__eq__` and (frozen) `__setattr__` as source text,
compiles it, and documents the class by computing its signature: measured on Pyodide 314 that is
1.3-3.5 ms per class, paid by every cold start of the Worker. `record` gives the same constructor
(positional or keyword arguments, defaults, `field(default_factory=...)`), `repr`, equality, and
for `frozen=True` immutability and hashing, from a few shared functions that read the class's
field table, so declaring a record costs about what a plain class costs. `fields` and `replace`
stand in for their `dataclasses` namesakes. Not supported (use `dataclasses` where needed):
`__post_init__`, ordering, `InitVar`, `kw_only`, slots.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, TypeVar, dataclass_transform

__all__ = ["FrozenInstanceError", "field", "fields", "record", "replace"]

C = TypeVar("C", bound=type)

_REQUIRED, _DEFAULT, _FACTORY = 0, 1, 2


class _Field:
    __slots__ = ("default", "factory")

    def __init__(self, default: Any, factory: Any) -> None:
        self.default = default
        self.factory = factory


_NOTHING: Any = object()


def field(*, default: Any = _NOTHING, default_factory: Any = _NOTHING) -> Any:
    """A field's default value, or a callable that makes a fresh default for each instance."""
    if default is not _NOTHING and default_factory is not _NOTHING:
        raise ValueError("a field takes a default or a default_factory, not both")
    return _Field(default, default_factory)


def _annotation_names(cls: type) -> list[str]:
    """The class's own field names, in order, without evaluating any annotation."""
    try:
        import annotationlib  # Python 3.14: annotations may be lazy
    except ImportError:  # before 3.14: strings, with `from __future__ import annotations`
        import inspect

        own = inspect.get_annotations(cls)
    else:
        own = annotationlib.get_annotations(cls, format=annotationlib.Format.STRING)
    return [
        name
        for name, note in own.items()
        if not (isinstance(note, str) and note.replace("typing.", "").startswith("ClassVar"))
    ]


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    table = self.__record_table__
    if len(args) > len(table):
        raise TypeError(f"{type(self).__name__}() takes {len(table)} arguments, got {len(args)}")
    put = object.__setattr__
    for index, (name, kind, value) in enumerate(table):
        if index < len(args):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__}() got multiple values for {name!r}")
            put(self, name, args[index])
        elif name in kwargs:
            put(self, name, kwargs.pop(name))
        elif kind == _DEFAULT:
            put(self, name, value)
        elif kind == _FACTORY:
            put(self, name, value())
        else:
            raise TypeError(f"{type(self).__name__}() missing required argument {name!r}")
    if kwargs:  # every known name was taken above; what is left is unknown
        unexpected = next(iter(kwargs))
        raise TypeError(f"{type(self).__name__}() got an unexpected argument {unexpected!r}")


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in self.__record_names__)


def _repr(self: Any) -> str:
    inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_names__)
    return f"{type(self).__qualname__}({inner})"


def _eq(self: Any, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash(_values(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _make(cls: C, frozen: bool) -> C:
    table: list[tuple[str, int, Any]] = []
    for base in reversed(cls.__mro__[1:]):
        table.extend(getattr(base, "__record_table__", ()))
    seen = {name for name, _, _ in table}
    for name in _annotation_names(cls):
        value = cls.__dict__.get(name, _NOTHING)
        if isinstance(value, _Field):
            if value.factory is not _NOTHING:
                kind, value = _FACTORY, value.factory
                delattr(cls, name)
            elif value.default is not _NOTHING:
                kind, value = _DEFAULT, value.default
                setattr(cls, name, value)
            else:
                kind, value = _REQUIRED, None
                delattr(cls, name)
        elif value is _NOTHING:
            kind, value = _REQUIRED, None
        else:
            kind = _DEFAULT
        if name in seen:  # an override keeps the inherited field's place
            table = [(name, kind, value) if row[0] == name else row for row in table]
        else:
            seen.add(name)
            table.append((name, kind, value))
    optional = False
    for name, kind, _ in table:
        if kind == _REQUIRED and optional:
            raise TypeError(
                f"{cls.__name__}: required field {name!r} follows a field with a default"
            )
        optional = optional or kind != _REQUIRED
    cls.__record_table__ = tuple(table)
    cls.__record_names__ = tuple(name for name, _, _ in table)
    cls.__init__ = _init
    cls.__repr__ = _repr
    cls.__eq__ = _eq
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
        cls.__hash__ = _hash
    else:
        cls.__hash__ = None  # mutable and comparable by value: unhashable, like dataclasses
    return cls


@dataclass_transform(field_specifiers=(field,))
def record(cls: C | None = None, /, *, frozen: bool = False) -> Any:
    """Make `cls` a record: `@record` or `@record(frozen=True)`."""
    if cls is None:
        return lambda inner: _make(inner, frozen)
    return _make(cls, frozen)


def fields(obj: Any) -> tuple[str, ...]:
    """The field names of a record class or instance, in order."""
    return tuple(obj.__record_names__)


def replace(obj: Any, /, **changes: Any) -> Any:
    """A copy of `obj` with some fields changed."""
    values = {name: getattr(obj, name) for name in obj.__record_names__}
    unknown = set(changes) - set(values)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)[0]!r}")
    values.update(changes)
    return type(obj)(**values)
