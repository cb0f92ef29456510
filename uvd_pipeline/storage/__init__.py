"""Input paths on any fsspec filesystem: listing folders, splitting listings into units, reading
bytes. Sources (built-in and third-party) and the output store read through it."""

from .names import escape_name, escape_strings, escape_text, name_bytes, unescape_name
from .paths import filesystem, full_path, in_units, join, list_files, list_folder, read_bytes

__all__ = [
    "escape_name", "escape_strings", "escape_text", "filesystem", "full_path", "in_units", "join", "list_files",
    "list_folder", "name_bytes", "read_bytes", "unescape_name",
]
