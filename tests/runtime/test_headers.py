from __future__ import annotations

from runtime.http import HeaderDefaults, Headers


def test_lookups_ignore_case_and_return_the_first_value() -> None:
    h = Headers([("Content-Type", "a"), ("content-type", "b"), ("X-One", "1")])
    assert h.get("CONTENT-TYPE") == "a"
    assert h.get_all("Content-type") == ["a", "b"]
    assert "x-one" in h and "X-Two" not in h
    assert h.get("x-two", "fallback") == "fallback"


def test_set_replaces_every_value_of_a_name_and_keeps_the_others_in_order() -> None:
    h = Headers({"A": "1", "B": "2"})
    h.add("a", "3")
    h.set("A", "4")
    assert h.items() == [("B", "2"), ("A", "4")]
    assert h.get("a") == "4"


def test_delete_then_setdefault_adds_again_and_setdefault_never_overwrites() -> None:
    h = Headers([("Vary", "Origin")])
    h.delete("VARY")
    assert "vary" not in h and len(h) == 0
    h.setdefault("Vary", "Accept")
    h.setdefault("vary", "Origin")
    assert h.get_all("vary") == ["Accept"]


def test_add_missing_adds_only_absent_names() -> None:
    h = Headers([("X-Frame-Options", "SAMEORIGIN")])
    h.add_missing(HeaderDefaults({"X-Frame-Options": "DENY", "X-A": "1"}))
    assert h.items() == [("X-Frame-Options", "SAMEORIGIN"), ("X-A", "1")]
    assert h.get("x-a") == "1"


def test_add_missing_adds_all_defaults_in_order_when_none_is_present() -> None:
    h = Headers([("Content-Type", "application/json")])
    h.add_missing(HeaderDefaults({"X-Frame-Options": "DENY", "X-A": "1"}))
    assert h.items() == [
        ("Content-Type", "application/json"),
        ("X-Frame-Options", "DENY"),
        ("X-A", "1"),
    ]
    assert h.get("x-frame-options") == "DENY" and "X-A" in h


def test_copies_are_independent_and_from_pairs_uses_given_lists() -> None:
    original = Headers([("A", "1")])
    copy = Headers(original)
    copy.add("B", "2")
    assert "b" not in original
    made = Headers.from_pairs([("origin", "https://x")], ["origin"])
    assert made.get("Origin") == "https://x"
