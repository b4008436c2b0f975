"""runtime.records: data classes without generated code behave like the dataclasses they replace."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

import pytest

from runtime.records import FrozenInstanceError, field, fields, record, replace

T = TypeVar("T")


@record
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    kind: ClassVar[str] = "point"


@record(frozen=True)
class Frozen:
    name: str
    size: int = field(default=3)


@record(frozen=True)
class Box(Generic[T]):
    value: T


@record
class Labelled(Point):
    label: str = ""
    y: int = 5


def test_positional_keyword_and_default_arguments_fill_the_fields() -> None:
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, [])
    assert Point(1, 2).y == 2 and Point(x=1, y=4).y == 4
    assert Point(1, tags=["a"]).tags == ["a"]


def test_each_instance_gets_its_own_default_from_the_factory() -> None:
    first, second = Point(1), Point(2)
    first.tags.append("a")
    assert second.tags == []


def test_classvar_annotations_are_not_fields() -> None:
    assert fields(Point) == ("x", "y", "tags")
    assert Point.kind == "point"


def test_wrong_arguments_raise_type_error() -> None:
    with pytest.raises(TypeError, match="missing required argument 'x'"):
        Point()
    with pytest.raises(TypeError, match="unexpected argument 'z'"):
        Point(1, z=2)
    with pytest.raises(TypeError, match="multiple values for 'x'"):
        Point(1, x=2)
    with pytest.raises(TypeError, match="takes 3 arguments"):
        Point(1, 2, [], 4)


def test_required_field_after_default_is_refused_at_declaration() -> None:
    with pytest.raises(TypeError, match="follows a field with a default"):

        @record
        class Bad:
            a: int = 1
            b: int


def test_equality_and_repr_compare_and_show_the_fields() -> None:
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(1, 3)
    assert Point(1) != Labelled(1)
    assert repr(Frozen("a")) == "Frozen(name='a', size=3)"


def test_frozen_records_refuse_assignment_and_are_hashable() -> None:
    item = Frozen("a")
    with pytest.raises(FrozenInstanceError):
        item.name = "b"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del item.size  # type: ignore[misc]
    assert hash(item) == hash(Frozen("a")) and {item, Frozen("a")} == {item}


def test_mutable_records_are_unhashable_like_dataclasses() -> None:
    with pytest.raises(TypeError):
        hash(Point(1))


def test_subclasses_extend_and_override_inherited_fields() -> None:
    assert fields(Labelled) == ("x", "y", "tags", "label")
    assert Labelled(1).y == 5 and Labelled(1, 2, ["t"], "l").label == "l"


def test_generic_records_work() -> None:
    assert Box(3).value == 3 and Box[int](3) == Box(3)


def test_replace_copies_with_changes_and_refuses_unknown_fields() -> None:
    original = Frozen("a", 1)
    assert replace(original, size=2) == Frozen("a", 2) and original.size == 1
    with pytest.raises(TypeError, match="no field 'colour'"):
        replace(original, colour="red")
