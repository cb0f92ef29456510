"""Frame-folder videos: natural frame order, seeded clip, only sampled frames read, rejects."""

from __future__ import annotations

import numpy as np
from PIL import Image

from uvd_pipeline.ids import bytes_id
from uvd_pipeline.sources.frame_folder import FrameFolderSource, natural_key, video_folders
from uvd_pipeline.types import Item, Reject, WorkUnit


def write_frames(folder, n, pad=6, ext="png"):
    """Frame k (1-based name) is a flat image whose red channel encodes k, so order is checkable."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(1, n + 1):
        px = np.zeros((12, 16, 3), np.uint8)
        px[..., 0], px[..., 1] = k % 256, k // 256
        Image.fromarray(px).save(folder / f"{k:0{pad}d}.{ext}" if pad else folder / f"{k}.{ext}")


def frame_number(item: Item) -> int:
    return int(item.image.pixels[0, 0, 0]) + 256 * int(item.image.pixels[0, 0, 1])


def read(src):
    out = []
    for i, payload in enumerate(src.units()):
        out += list(src.read(WorkUnit(f"f-{i:06d}", "frames", i, payload)))
    return out


def test_natural_order_and_folder_grouping():
    names = ["10.jpg", "2.jpg", "1.jpg", "frame_100.jpg", "frame_20.jpg"]
    assert sorted(names, key=natural_key) == ["1.jpg", "2.jpg", "10.jpg", "frame_20.jpg", "frame_100.jpg"]
    got = video_folders(["b/2.jpg", "a/x/10.jpg", "b/10.jpg", "a/x/9.jpg"])
    assert got == {"a/x": ["9.jpg", "10.jpg"], "b": ["2.jpg", "10.jpg"]}


def test_clip_follows_the_stride_in_natural_frame_order(tmp_path):
    write_frames(tmp_path / "jump" / "v1", 320, pad=0)  # 1.png .. 320.png, unpadded names
    write_frames(tmp_path / "run" / "v2", 160)
    outs = read(FrameFolderSource(path=str(tmp_path), unit_size=1, short_video="reject"))
    assert all(isinstance(o, Item) for o in outs) and len(outs) == 32
    for folder in ("jump/v1", "run/v2"):
        frames = [o for o in outs if o.record == folder]
        m = frames[0].meta
        indices = [f.meta["frame_index"] for f in frames]
        assert indices == [m["start"] + m["stride"] * k for k in range(16)]
        assert m["stride"] in ({10, 20} if folder == "jump/v1" else {10})
        assert [frame_number(f) for f in frames] == [i + 1 for i in indices]  # index 0 is the first file
        for f in frames:
            data = (tmp_path / folder / f.meta["frame_file"]).read_bytes()
            assert f.image.id == bytes_id(data)


def test_only_the_sampled_frames_are_read(tmp_path):
    write_frames(tmp_path / "v", 200)
    (frames,) = [read(FrameFolderSource(path=str(tmp_path)))]
    used = {f.meta["frame_file"] for f in frames}
    # Break every frame the clip does not use: the source must not notice.
    for p in (tmp_path / "v").iterdir():
        if p.name not in used:
            p.write_bytes(b"not an image")
    again = read(FrameFolderSource(path=str(tmp_path)))
    assert [f.image.id for f in again] == [f.image.id for f in frames]


def test_a_bad_sampled_frame_rejects_the_video_naming_the_frame(tmp_path):
    write_frames(tmp_path / "v", 151)  # one span at stride 10: the clip is frames 0, 10, ..., 150
    (tmp_path / "v" / "000011.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    write_frames(tmp_path / "short", 150)
    outs = read(FrameFolderSource(path=str(tmp_path), short_video="reject"))
    assert [(o.record, o.reason) for o in outs] == [("short", "video_too_short"), ("v", "not_an_image")]
    assert all(isinstance(o, Reject) for o in outs)
    assert "frame 000011.png" in outs[1].detail
    assert outs[0].detail == "short: 150 frames; 16 frames at stride 10 need 151"


def test_units_hold_the_listing_and_count_videos(tmp_path):
    for name in ("a", "b", "c"):
        write_frames(tmp_path / name, 3)
    src = FrameFolderSource(path=str(tmp_path), unit_size=2)
    units = src.units()
    assert [[v["dir"] for v in u["videos"]] for u in units] == [["a", "b"], ["c"]]
    assert [src.count_records(u) for u in units] == [2, 1]
    assert units[0]["videos"][0]["frames"] == ["000001.png", "000002.png", "000003.png"]


def test_passes_the_plugin_conformance_suite(tmp_path):
    from uvd_pipeline.testing import check_source

    check_source(FrameFolderSource, tmp_dir=tmp_path, fresh_process=False)


def test_a_short_folder_gets_the_stride_shrunk_as_lvm_read_frames_from_dir_does(tmp_path):
    """LVM's rule: stride = min(stride, (n - 1) // 15); fewer frames than the clip is still a reject."""
    write_frames(tmp_path / "v", 100)  # strides 10/20/30 need 151/301/451 frames
    write_frames(tmp_path / "tiny", 15)
    outs = read(FrameFolderSource(path=str(tmp_path)))
    rejects = [o for o in outs if isinstance(o, Reject)]
    assert [(r.record, r.reason, r.detail) for r in rejects] == [
        ("tiny", "video_too_short", "tiny: 15 frames; 16 frames at stride 1 need 16")
    ]
    frames = [o for o in outs if isinstance(o, Item)]
    m = frames[0].meta
    assert m["stride"] == min(m["stride_drawn"], (100 - 1) // 15) == 6 and m["stride_drawn"] in (10, 20, 30)
    assert [frame_number(f) - 1 for f in frames] == [m["start"] + 6 * k for k in range(16)]
