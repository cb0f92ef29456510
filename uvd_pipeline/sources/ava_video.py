"""AVA-style annotated videos: video files + a CSV of person boxes at keyframes (`ava_video`).

The CSV has no header; each row is `video_id, timestamp, x1, y1, x2, y2, action_id[, person_id]`,
box corners normalised to [0, 1], one row per person and action at each annotated second (AVA
annotates one keyframe a second). Rows of one person at one second are one box with several
actions. A keyframe is frame `round((timestamp - time_offset) * fps)` of the video file, decoded as
in sources/video.py (grab between keyframes, seek to a far start). Each keyframe's people become
meta["annotations"] = [{"bbox": [x, y, w, h] in pixels, "category_id": the person's first action,
"actions": [...], "person_id"}], which the `coco_boxes` renderer draws; the clip is drawn among the
keyframes as described in sources/annotated_video.py, and `annotated_video` pairs them.

Rejects: bad_csv_row (naming the line), missing_video, unreadable_file, unreadable_video,
video_too_short, bad_timestamps, keyframe_past_end.
"""

from __future__ import annotations

import csv
import io
import math
import posixpath
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from ..errors import BadInput
from ..storage import check_input, full_path, in_units, join, list_files, read_bytes
from ..types import Image, Item, Reject, WorkUnit
from .annotated_video import AnnotatedClipParams, _AnnotatedVideoSource, clip_meta
from .video import VIDEO_EXTENSIONS, _cv2, decode_frames, file_id, frame_id, local_copy


class AvaParams(AnnotatedClipParams):
    annotations: str = Field(
        description="the AVA CSV (no header): video_id, timestamp, x1, y1, x2, y2, action_id[, person_id]"
    )
    video_extensions: list[str] = Field(default_factory=lambda: list(VIDEO_EXTENSIONS))
    time_offset: float = Field(default=0.0, description="seconds to subtract from timestamps (trimmed videos)")
    seek_threshold: int = Field(default=250, ge=1)


def parse_ava_rows(text: str, origin: str) -> tuple[dict[str, dict[float, dict[int, dict]]], list[dict[str, str]]]:
    """video -> timestamp -> person -> {"box", "actions"}; and the rows that could not be used, each
    with its reason: unreadable (`bad_csv_row`), a person given a second box at one timestamp
    (`conflicting_annotation`: never an overwrite), the same person, box and action again
    (`duplicate_annotation`). Rows without a person id (7 fields) are told apart by their box."""
    videos: dict[str, dict[float, dict[int, dict]]] = {}
    bad = []
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ValueError(f"{origin}: not a CSV file ({exc})") from None
    for line_no, row in enumerate(rows, start=1):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            if len(row) not in (7, 8):
                raise ValueError(f"{len(row)} fields, expected 7 or 8")
            t = float(row[1])
            box = [float(c) for c in row[2:6]]
            action = int(row[6])
            person = int(row[7]) if len(row) == 8 else -1
            if not all(math.isfinite(c) for c in [t, *box]):
                raise ValueError("non-finite number")
        except ValueError as exc:
            bad.append({"record": f"{origin}:{line_no}", "detail": f"{origin} line {line_no}: {exc}: {row!r}"})
            continue
        people = videos.setdefault(row[0], {}).setdefault(t, {})
        if person == -1:  # no person column: one person per distinct box, numbered -1, -2, ...
            person = next((k for k, e in people.items() if k < 0 and e["box"] == box), -1 - sum(k < 0 for k in people))
        entry = people.setdefault(person, {"box": box, "actions": []})
        where = f"{origin} line {line_no}: person {person} at {row[1]}"
        if entry["box"] != box:
            bad.append({"record": f"{origin}:{line_no}", "reason": "conflicting_annotation",
                        "detail": f"{where}: box {box}, an earlier row gives {entry['box']}"})
        elif action in entry["actions"]:
            bad.append({"record": f"{origin}:{line_no}", "reason": "duplicate_annotation",
                        "detail": f"{where}: action {action} is listed twice"})
        else:
            entry["actions"].append(action)
    return videos, bad


class AvaVideoSource(_AnnotatedVideoSource):
    """`ava_video`: keyframes of video files with person boxes from the AVA CSV."""

    Params = AvaParams

    def units(self) -> list[dict[str, Any]]:
        p = self.params
        exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in p.video_extensions)
        fs, inner, files = list_files(p.path, exts)
        by_stem = {posixpath.splitext(posixpath.basename(f))[0]: f for f in files}
        rows, bad = parse_ava_rows(
            read_bytes(p.annotations).decode("utf-8", errors="replace"), posixpath.basename(p.annotations)
        )
        videos = []
        for vid in sorted(rows):
            keyframes = [
                {"t": t, "people": [{"person": k, **rows[vid][t][k]} for k in sorted(rows[vid][t])]}
                for t in sorted(rows[vid])
            ]
            videos.append({"video": vid, "file": by_stem.get(vid), "keyframes": keyframes})
        units = [
            {"root": full_path(fs, inner), "videos": part, "bad_rows": []}
            for part in in_units(videos, p.unit_size)
        ]
        if bad:
            units.append({"root": full_path(fs, inner), "videos": [], "bad_rows": bad})
        return units

    def count_records(self, payload: dict[str, Any]) -> int:
        return len(payload["videos"]) + len(payload["bad_rows"])

    def read(self, unit: WorkUnit) -> Iterator[Item | Reject]:
        for row in unit.payload["bad_rows"]:
            yield Reject(row["record"], row.get("reason", "bad_csv_row"), row["detail"])
        for v in unit.payload["videos"]:
            if v["file"] is None:
                yield Reject(
                    v["video"], "missing_video", f"{v['video']}: no video file named so under {unit.payload['root']}"
                )
                continue
            url = join(unit.payload["root"], v["file"])
            try:  # a FIFO named .mp4 would block FFmpeg; a link may lead outside the folder
                check_input(url, unit.payload["root"])
            except BadInput as exc:
                yield Reject(v["video"], exc.reason, exc.detail)
                continue
            except (OSError, ValueError):
                pass  # read_video says it in its terms
            yield from self.read_video(url, v, unit.source)

    def read_video(self, url: str, v: dict[str, Any], source: str) -> Iterator[Item | Reject]:
        cv2 = _cv2()

        p, record, keyframes = self.params, v["video"], v["keyframes"]
        try:
            with local_copy(url) as path:
                video_id = file_id(path)
                clip = self.clip_for(source, video_id, len(keyframes), record)
                if isinstance(clip, Reject):
                    yield clip
                    return
                cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
                fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
                cap.release()
                if fps <= 0:
                    yield Reject(
                        record, "unreadable_video", f"{url}: OpenCV/FFmpeg cannot open it or it has no frame rate"
                    )
                    return
                try:
                    numbers = [round((keyframes[i]["t"] - p.time_offset) * fps) for i in clip.indices]
                except OverflowError:  # a timestamp so large that its frame number is infinite
                    numbers = [-1]
                if numbers[0] < 0 or any(b <= a for a, b in zip(numbers, numbers[1:])):
                    yield Reject(record, "bad_timestamps", f"{record}: keyframes map to frames {numbers} at {fps} fps")
                    return
                try:
                    frames = decode_frames(path, numbers, p.seek_threshold)
                except Exception as exc:
                    yield Reject(
                        record,
                        "keyframe_past_end",
                        f"{record}: frames {numbers}: video ends first ({type(exc).__name__})",
                    )
                    return
        except OSError as exc:
            yield Reject(record, "unreadable_file", f"{url}: {exc}")
            return
        for position, number, rgb in zip(clip.indices, numbers, frames):
            h, w = rgb.shape[:2]
            kf = keyframes[position]
            anns = [
                {
                    "id": person["person"],
                    "bbox": [
                        person["box"][0] * w,
                        person["box"][1] * h,
                        (person["box"][2] - person["box"][0]) * w,
                        (person["box"][3] - person["box"][1]) * h,
                    ],
                    "category_id": min(person["actions"]),
                    "actions": sorted(person["actions"]),
                    "person_id": person["person"],
                }
                for person in kf["people"]
            ]
            meta = {
                **clip_meta(record, video_id, clip, position, number, len(keyframes)),
                "timestamp": kf["t"],
                "annotations": anns,
            }
            yield Item(record=record, image=Image(frame_id(video_id, number), rgb), meta=meta)
