"""Record names as the output writes them: always valid UTF-8, and reversible.

A name read from a file system or a tar header is bytes; Python decodes it with `surrogateescape`,
so a byte that is not UTF-8 (0xE9 of a Latin-1 "café") becomes a lone surrogate (U+DCE9). A JSON
string may hold a lone surrogate of its own (`"\\ud800"`). Neither can be written as UTF-8 (Arrow,
JSON), so before a record name leaves a source it is escaped:

- a backslash is written twice: `\\\\`;
- a surrogate code point U+D800..U+DFFF is written `\\u` and four lowercase hex digits (`\\udce9`).

Nothing else changes (a valid name without a backslash is written as it is). `unescape_name` undoes
it exactly, and `name_bytes` gives the original bytes of a name that came from a file system or a
tar header. FORMAT.md documents the same rule for readers without uvd.
"""

from __future__ import annotations

import os
import re
from typing import Any

_TO_ESCAPE = re.compile("[\\\\\ud800-\udfff]")
_ESCAPED = re.compile(r"\\(\\|u[0-9a-f]{4})")
_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_name(name: str) -> str:
    """The written form of a record name (see the module docstring); the identity for most names."""
    if not _TO_ESCAPE.search(name):
        return name
    return _TO_ESCAPE.sub(lambda m: "\\\\" if m.group() == "\\" else f"\\u{ord(m.group()):04x}", name)


def unescape_name(written: str) -> str:
    """The name as the source read it (surrogates included): the inverse of escape_name."""
    if "\\" not in written:
        return written
    return _ESCAPED.sub(lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)), written)


def name_bytes(written: str) -> bytes:
    """The original bytes of a name a file system or tar header gave (UTF-8 with surrogateescape)."""
    return os.fsencode(unescape_name(written))


def escape_text(text: str) -> str:
    """Free text (a reject's detail, a provenance string) made writable as UTF-8: surrogates only are
    written `\\uXXXX`; backslashes stay single (text is for people, names are for round trips)."""
    if not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def escape_strings(value: Any) -> Any:
    """`value` (JSON-able: dicts, lists, strings, numbers) with escape_text applied to every string,
    keys included (other values are kept as they are)."""
    return _walk(value, escape_text)


def escape_names(value: Any) -> Any:
    """escape_name on every string (keys included) of a JSON-able value; unescape_names undoes it."""
    return _walk(value, escape_name)


def unescape_names(value: Any) -> Any:
    return _walk(value, unescape_name)


def _walk(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {_walk(k, fn): _walk(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_walk(v, fn) for v in value)
    return value
