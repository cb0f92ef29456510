"""Input paths on any fsspec filesystem: listing folders, splitting listings into units, reading
bytes. Sources (built-in and third-party) and the output store read through it."""

from .names import escape_name, escape_strings, escape_text, name_bytes, unescape_name
from .input_files import (
    DEFAULT_MAX_RECORD_BYTES,
    InputRefused,
    check_input,
    check_size,
    max_record_bytes,
    open_input,
    read_bytes,
    read_record_bytes,
    set_input_policy,
)
from .paths import filesystem, full_path, in_units, join, list_files, list_folder

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES", "InputRefused", "check_input", "check_size", "max_record_bytes", "open_input",
    "read_record_bytes", "set_input_policy",
    "escape_name", "escape_strings", "escape_text", "filesystem", "full_path", "in_units", "join", "list_files",
    "list_folder", "name_bytes", "read_bytes", "unescape_name",
]
