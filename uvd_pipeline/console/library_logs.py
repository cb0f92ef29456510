"""Other libraries' messages go through our logging, or are kept to what a user must see.

- Python warnings (`warnings.warn` in torch, pyarrow, trimesh ...) are captured into the
  `py.warnings` logger and written by our handler: one `HH:MM:SS warning ...` line, or one JSON
  object under `--log-format json`, never a bare two-line warning on stderr.
- OpenCV writes its own log lines to stderr from C++ (`[ WARN:0@0.03] ... capture by name` when
  FFmpeg cannot open a corrupt file). What they say is already a reject row with its reason
  (`unreadable_video`), so OpenCV is kept to errors unless the user set OPENCV_LOG_LEVEL, and
  FFmpeg's own messages stay off (OPENCV_FFMPEG_LOGLEVEL) unless set.
"""

from __future__ import annotations

import logging
import os
from typing import Any

WARNINGS_LOGGER = "py.warnings"


def route_warnings(handler: logging.Handler | None) -> None:
    """Send Python warnings through `handler` (our formatter); None undoes it."""
    logger = logging.getLogger(WARNINGS_LOGGER)
    for old in list(logger.handlers):
        if getattr(old, "_uvd", False):
            logger.removeHandler(old)
    if handler is None:
        logging.captureWarnings(False)
        logger.propagate = True
        return
    logging.captureWarnings(True)
    logger.addHandler(handler)
    logger.propagate = False


def quiet_opencv(cv2: Any) -> Any:
    """`cv2` with its own stderr logging kept to errors (unless OPENCV_LOG_LEVEL is set)."""
    if "OPENCV_LOG_LEVEL" not in os.environ:
        try:
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        except AttributeError:  # a build without the logging utilities
            pass
    return cv2
