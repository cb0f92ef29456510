"""The shape of a ledger entry and of the paths it names, checked before anything trusts it.

A ledger entry is read from storage that someone else may have written: every reader (verify,
`Dataset`, digest, export) checks that it is a JSON object with the fields FORMAT.md lists, of
the types it lists, and that every file it names lies inside its folder of the output (no `..`,
no absolute path, no backslash), before it opens anything."""

from __future__ import annotations

from typing import Any

from .schema import MANIFESTS_DIR, REJECTS_DIR, SHARDS_DIR

FILE_DIRS = {"shard": SHARDS_DIR, "manifest": MANIFESTS_DIR, "rejects": REJECTS_DIR}
COUNT_KEYS = ("sequences", "images", "tokens", "records_read", "records_used", "records_rejected", "reject_rows")
_HEX = set("0123456789abcdef")


def safe_relative_path(path: Any, folder: str | None = None) -> bool:
    """A path relative to the output root that stays inside it (and inside `folder`, if given)."""
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path or "\0" in path:
        return False
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts) or ":" in parts[0]:
        return False
    return folder is None or (len(parts) == 2 and parts[0] == folder)


def entry_problems(entry: Any, where: str, name: str | None = None) -> list[str]:
    """What is wrong with a ledger entry's shape (empty: usable). `where` names the file in messages;
    `name` is its file name (`<unit>.json`), which must match the entry's unit."""
    if not isinstance(entry, dict):
        return [f"{where}: a ledger entry must be a JSON object, got {type(entry).__name__}"]
    out: list[str] = []
    for key in ("unit", "source", "category", "recipe", "checksum"):
        if not isinstance(entry.get(key), str):
            out.append(f"{where}: field {key!r} missing or not a string")
    unit = entry.get("unit")
    if isinstance(unit, str) and (not safe_relative_path(unit) or "/" in unit):
        out.append(f"{where}: field 'unit' {unit!r} is not a unit id")
    elif isinstance(unit, str) and name is not None and name != f"{unit}.json":
        out.append(f"{where}: entry of unit {unit!r} stored under another name")
    files = entry.get("files")
    if not isinstance(files, dict) or set(files) != set(FILE_DIRS):
        out.append(f"{where}: field 'files' must be an object with exactly {', '.join(FILE_DIRS)}")
    else:
        for kind, folder in FILE_DIRS.items():
            info = files[kind]
            if not isinstance(info, dict):
                out.append(f"{where}: files.{kind} must be an object")
                continue
            if not safe_relative_path(info.get("path"), folder):
                out.append(f"{where}: files.{kind}.path {info.get('path')!r} is not a file under {folder}/")
            sha = info.get("sha256")
            if not (isinstance(sha, str) and len(sha) == 64 and set(sha) <= _HEX):
                out.append(f"{where}: files.{kind}.sha256 is not a sha256 hex digest")
            if not _count(info.get("bytes")):
                out.append(f"{where}: files.{kind}.bytes is not a byte count")
    counts = entry.get("counts")
    if not isinstance(counts, dict):
        out.append(f"{where}: field 'counts' missing or not an object")
    else:
        bad = [k for k in COUNT_KEYS if not _count(counts.get(k))]
        if bad:
            out.append(f"{where}: counts {', '.join(bad)} missing or not non-negative integers")
    return out


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
