"""Record names that are not valid UTF-8 are written escaped, reversibly (storage/names.py)."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from uvd_pipeline.storage import escape_name, list_folder, name_bytes, unescape_name
from uvd_pipeline.types import WorkUnit

# any code point, lone surrogates and backslashes included (Hypothesis leaves surrogates out by default)
ANY_TEXT = st.lists(
    st.characters(blacklist_categories=()) | st.sampled_from(["\\", "\\u", "\\udcff", "\udcff", "\ud800"])
).map("".join)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_escape_is_valid_utf8_and_reversible(name):
    written = escape_name(name)
    written.encode("utf-8")  # never raises
    assert unescape_name(written) == name


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT, ANY_TEXT)
def test_two_names_never_share_a_written_form(a, b):
    assert (escape_name(a) == escape_name(b)) == (a == b)


def test_valid_names_without_backslash_are_written_as_they_are():
    for name in ("ok.jpg", "vidéo/000001.png", "日本語.png", "00000.tar/k0", "a b%20c.jpg"):
        assert escape_name(name) == name


def test_the_written_forms_of_odd_names():
    assert escape_name("caf\udce9.jpg") == "caf\\udce9.jpg"
    assert escape_name("\ud800.jpg") == "\\ud800.jpg"
    assert escape_name("a\\b") == "a\\\\b"
    assert escape_name("a\\udce9") == "a\\\\udce9"  # a literal backslash-u is not a surrogate


def test_file_system_names_round_trip_to_their_bytes(tmp_path):
    raw = b"caf\xe9 \xff\xfe.png"
    (tmp_path / os.fsdecode(raw)).write_bytes(b"x")
    _, files = list_folder(str(tmp_path), ["png"])
    assert [name_bytes(escape_name(f)) for f in files] == [raw]


def test_unit_rows_carry_any_name_as_valid_utf8_and_back():
    payload = {"root": "/data", "files": ["caf\udce9.png", "a\\b.png", "ok.png"], "n": 3, "nested": [{"k\udcff": 1.5}]}
    unit = WorkUnit("s-000000", "s", 0, payload)
    row = unit.to_row()
    assert row["payload"]["files"] == ["caf\\udce9.png", "a\\\\b.png", "ok.png"]
    import json

    json.dumps(row, ensure_ascii=False).encode("utf-8")
    assert WorkUnit.from_row(row) == unit
