"""Input paths on any fsspec filesystem: listing folders, splitting listings into units, reading
bytes. Sources (built-in and third-party) and the output store read through it."""

from .paths import filesystem, full_path, in_units, join, list_files, list_folder, read_bytes

__all__ = ["filesystem", "full_path", "in_units", "join", "list_files", "list_folder", "read_bytes"]
