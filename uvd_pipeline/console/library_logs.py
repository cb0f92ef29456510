"""Other libraries' messages go through our logging, or are kept to what a user must see.

- Warnings other libraries log (Python logging without a handler of their own, e.g. Ray's
  token-auth notice) and Python warnings (`warnings.warn`, captured into `py.warnings`) are written
  by a handler on the root logger in our format: one `HH:MM:SS warning ...` line, or one JSON
  object under `--log-format json`, never a bare line on stderr.
- OpenCV writes its own log lines to stderr from C++ (`[ WARN:0@0.03] ... capture by name` when
  FFmpeg cannot open a corrupt file). What they say is already a reject row with its reason
  (`unreadable_video`), so OpenCV is kept to errors unless the user set OPENCV_LOG_LEVEL, and
  FFmpeg's own messages stay off (OPENCV_FFMPEG_LOGLEVEL) unless set.
"""

from __future__ import annotations

import logging
import os
from typing import Any

_LAST_RESORT = logging.lastResort


def route_library_logs(handler: logging.Handler | None) -> None:
    """Give the root logger `handler` (our format, WARNING and above) and capture Python warnings
    into logging: a library's warning (Ray's token-auth notice, a DeprecationWarning shown by
    torch ...) reaches stderr as one of our lines, or JSON under --log-format json, instead of a
    bare line from logging's last-resort handler or the warnings module. None undoes it."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_uvd", False):
            root.removeHandler(old)
    if handler is None:
        logging.captureWarnings(False)
        logging.lastResort = _LAST_RESORT
        return
    handler._uvd = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    # A logger that stops propagating and has no handler (Ray's, after ray.init) ends at
    # logging.lastResort: ours too.
    logging.lastResort = handler
    logging.captureWarnings(True)


def quiet_opencv(cv2: Any) -> Any:
    """`cv2` with its own stderr logging kept to errors (unless OPENCV_LOG_LEVEL is set)."""
    if "OPENCV_LOG_LEVEL" not in os.environ:
        try:
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        except AttributeError:  # a build without the logging utilities
            pass
    return cv2
