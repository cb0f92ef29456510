"""The bad-input corpus: every kind of broken or odd input real collections hold, written in the real
formats, with what "handled" means for each kind.

Two outcomes:
- "reject": the record becomes exactly one reject row naming it (the file, member, annotation or
  CSV line) with `reason`; the run goes on.
- "accept": odd but valid input (CMYK, 16-bit, palette, alpha, 1x1, extreme aspect, EXIF-rotated,
  a PNG named .jpg) is decoded, converted to RGB and used; `check` says what the decoded pixels
  must look like (shape as H x W, and a colour at a point).

`make_corpus(root)` writes everything under root (the annotated formats: corpus_annotated.py) and
returns the kinds and the recipe that reads them all (one source per format, small parameters so a
run is cheap). Bad recipes (`BAD_RECIPES`) are separate: they must fail before any work.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from uvd_pipeline.samples.pictures import picture


@dataclass(frozen=True)
class Check:
    """What an accepted image must decode to: its H x W, and the RGB colour at (y, x) within tol."""

    shape: tuple[int, int]
    at: tuple[int, int] | None = None
    rgb: tuple[int, int, int] | None = None
    tol: int = 40


@dataclass(frozen=True)
class Kind:
    name: str
    source: str  # the recipe's source name
    record: str  # the record it must end as (a row of the manifest or of the rejects table)
    outcome: str  # "reject" or "accept"
    reason: str = ""  # the reject reason, for outcome "reject"
    check: Check | None = None
    note: str = ""


RED, BLUE = (220, 20, 20), (20, 20, 220)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(img: Image.Image, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=92, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(side: int = 20_000) -> bytes:
    """A real decompression bomb: a 1-bit side x side PNG of zeros (400M pixels, 1.2 GB as RGB),
    about 50 kB on disk."""
    row = b"\x00" + bytes((side + 7) // 8)  # filter byte + packed bits
    raw = zlib.compress(row * side, 9)
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", raw) + _chunk(b"IEND", b"")


def exif_rotated_jpeg() -> bytes:
    """Stored 64 wide x 32 high, red in the stored top-left corner, EXIF orientation 6 ("rotate 90
    clockwise to display"): displayed 32 wide x 64 high with red in the top-right corner (with
    `preprocess.exif: apply`; the default keeps the stored layout, as LVM does)."""
    img = Image.new("RGB", (64, 32), BLUE)
    img.paste(RED, (0, 0, 16, 16))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg(img, exif=exif.tobytes())


def _tiff(frames: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def nan_float_tiff() -> bytes:
    """A 32-bit float TIFF (PIL mode F) of 0.5 with one NaN pixel."""
    pixels = np.full((20, 30), 0.5, np.float32)
    pixels[7, 9] = np.nan
    return _tiff([Image.fromarray(pixels, mode="F")])


def _images(base: Path, rng: np.random.Generator) -> list[Kind]:
    base.mkdir(parents=True)
    src = "images"
    good = picture(rng, 64, 48)
    good_jpeg = _jpeg(good)
    files: dict[str, bytes] = {
        "ok.jpg": good_jpeg,
        "truncated.jpg": good_jpeg[: len(good_jpeg) // 3],
        "zero_byte.jpg": b"",
        "png_named_jpg.jpg": _png(Image.new("RGB", (40, 30), RED)),
        "text_named_png.png": b"this is a text file with an image extension\n",
        "cmyk.jpg": _jpeg(Image.new("CMYK", (40, 30), (0, 255, 255, 0))),  # CMYK red
        "gray16.png": _png(Image.fromarray(np.tile(np.arange(0, 65536, 256, dtype=np.uint16), (8, 1)))),
        "palette.png": _png(Image.new("RGB", (30, 20), BLUE).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)),
        "alpha.png": _png(Image.new("RGBA", (30, 20), (*RED, 0))),  # fully transparent red
        "one_by_one.png": _png(Image.new("RGB", (1, 1), BLUE)),
        "huge_width.png": _png(Image.new("RGB", (40_000, 1), RED)),
        "exif_rotated.jpg": exif_rotated_jpeg(),
        "bomb.png": png_bomb(),
        "nan_float.tif": nan_float_tiff(),
        "multipage.tif": _tiff([Image.new("RGB", (30, 20), RED), Image.new("RGB", (50, 40), BLUE)]),
    }
    for name, data in files.items():
        (base / name).write_bytes(data)
    # A Latin-1 file name: byte 0xE9 is not UTF-8 (Python lists it as the lone surrogate U+DCE9)
    Path(os.fsdecode(os.fsencode(str(base)) + b"/caf\xe9.png")).write_bytes(_png(Image.new("RGB", (30, 20), RED)))
    # Special files and links: a FIFO (opening it to read would block for ever), a link leading out
    # of the folder, a link inside it, a folder link leading out (not entered: no record), and a
    # sparse file of 3 GiB (over max_record_bytes; no block of it is written)
    os.mkfifo(base / "fifo.jpg")
    outside = base.parent / "outside_images"
    outside.mkdir()
    (outside / "secret.png").write_bytes(_png(Image.new("RGB", (30, 20), BLUE)))
    (base / "outside_link.png").symlink_to(outside / "secret.png")
    (base / "inside_link.png").symlink_to(base / "palette.png")
    (base / "outside_folder").symlink_to(outside, target_is_directory=True)
    with open(base / "sparse.png", "wb") as f:
        f.truncate(3 * 2**30)
    acc = lambda name, check, note: Kind(name.split(".")[0], src, name, "accept", check=check, note=note)  # noqa: E731
    rej = lambda name, reason, note: Kind(name.split(".")[0], src, name, "reject", reason, note=note)  # noqa: E731
    return [
        acc("ok.jpg", Check((48, 64)), "control"),
        rej("truncated.jpg", "corrupt_image", "JPEG cut at a third"),
        rej("zero_byte.jpg", "empty_file", "0 bytes"),
        acc("png_named_jpg.jpg", Check((30, 40), (15, 20), RED), "wrong extension, valid PNG inside: decoded by content"),
        rej("text_named_png.png", "not_an_image", "wrong extension, text inside"),
        acc("cmyk.jpg", Check((30, 40), (15, 20), (255, 0, 0)), "CMYK JPEG converted to RGB"),
        acc("gray16.png", Check((8, 256), (4, 1), (255, 255, 255)), "16-bit grey: convert('RGB') clips at 255, as LVM (256 -> white)"),
        acc("palette.png", Check((20, 30), (10, 15), BLUE, tol=8), "palette PNG expanded to RGB"),
        acc("alpha.png", Check((20, 30), (10, 15), RED, tol=2), "RGBA: alpha dropped, colour kept"),
        acc("one_by_one.png", Check((1, 1), (0, 0), BLUE, tol=2), "1x1 image, squashed up to 256x256"),
        acc("huge_width.png", Check((1, 40_000), (0, 39_999), RED, tol=2), "40000x1 image, squashed to 256x256"),
        acc("exif_rotated.jpg", Check((32, 64), (4, 4), RED), "EXIF orientation 6 ignored by default (as LVM): stored layout"),
        rej("bomb.png", "decompression_bomb", "20000x20000 PNG (400M pixels) in 50 kB"),
        rej("nan_float.tif", "non_finite_pixels", "32-bit float TIFF with a NaN pixel (was read as black)"),
        Kind("non_utf8_file_name", src, "caf\\udce9.png", "accept", check=Check((20, 30), (10, 15), RED, tol=2),
             note="file name with the byte 0xE9 (Latin-1): recorded escaped, FORMAT.md"),
        rej("fifo.jpg", "not_a_regular_file", "a FIFO named .jpg (before: the run hung)"),
        rej("outside_link.png", "link_outside_input", "symlink to a file outside the folder (before: read)"),
        acc("inside_link.png", Check((20, 30), (10, 15), BLUE, tol=8), "symlink to palette.png, inside the folder"),
        rej("sparse.png", "too_large", "sparse 3 GiB file, over max_record_bytes (16 MiB here): refused by its size"),
        acc("multipage.tif", Check((20, 30), (10, 15), RED, tol=2), "2-page TIFF: the first page (30x20 red), as PIL opens it"),
    ]


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.type, info.linkname = len(data), 0, kind, link
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _webdataset(base: Path, rng: np.random.Generator) -> list[Kind]:
    base.mkdir(parents=True)
    src = "wds"
    jpeg = _jpeg(picture(rng, 48, 40))
    with tarfile.open(base / "00000.tar", "w") as tar:
        _tar_member(tar, "k0.jpg", jpeg)
        _tar_member(tar, "k0.txt", b"a caption")
        _tar_member(tar, "../../escape.jpg", jpeg)
        _tar_member(tar, "/tmp/absolute.jpg", jpeg)
        _tar_member(tar, "link.jpg", kind=tarfile.SYMTYPE, link="/etc/passwd")
        _tar_member(tar, "hard.jpg", kind=tarfile.LNKTYPE, link="k0.jpg")
        _tar_member(tar, "k1.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")
        _tar_member(tar, "k2.json", b'{"caption": "no image in this sample"}')
        _tar_member(tar, "k5\udcff.jpg", jpeg)  # the byte 0xFF in a member name (tarfile: surrogateescape)
        _tar_member(tar, "dev.jpg", kind=tarfile.CHRTYPE)
        _tar_member(tar, "fifo.jpg", kind=tarfile.FIFOTYPE)
    good = io.BytesIO()
    with tarfile.open(fileobj=good, mode="w") as tar:
        _tar_member(tar, "k3.jpg", jpeg)
        _tar_member(tar, "k4.jpg", _jpeg(picture(rng, 40, 40)))
    second_data = 512 + -(-len(jpeg) // 512) * 512 + 512  # header, padded data, next header
    (base / "00001.tar").write_bytes(good.getvalue()[: second_data + 100])  # cut inside the second member's data
    big = io.BytesIO()
    with tarfile.open(fileobj=big, mode="w") as tar:
        _tar_member(tar, "big.jpg", bytes(20 * 2**20))  # 20 MiB of zeros: over max_record_bytes (16 MiB here)
        _tar_member(tar, "k6.jpg", jpeg)
    (base / "00002.tar").write_bytes(gzip.compress(big.getvalue(), 6))  # gzip-compressed, named .tar: 20 kB
    os.mkfifo(base / "00003.tar")
    return [
        Kind("tar_control", src, "00000.tar/k0", "accept", note="control"),
        Kind("tar_path_escape", src, "00000.tar/../../escape.jpg", "reject", "unsafe_member_path",
             note="member path climbs out of the tar"),
        Kind("tar_absolute_path", src, "00000.tar//tmp/absolute.jpg", "reject", "unsafe_member_path",
             note="absolute member path"),
        Kind("tar_symlink", src, "00000.tar/link.jpg", "reject", "link_member", note="symlink to /etc/passwd"),
        Kind("tar_hardlink", src, "00000.tar/hard.jpg", "reject", "link_member", note="hard link member"),
        Kind("tar_bad_image", src, "00000.tar/k1", "reject", "corrupt_image", note="JPEG header then garbage"),
        Kind("tar_sample_without_image", src, "00000.tar/k2", "reject", "no_image", note="json only"),
        Kind("tar_non_utf8_member_name", src, "00000.tar/k5\\udcff", "accept",
             note="member name with the byte 0xFF: recorded escaped"),
        Kind("tar_char_device", src, "00000.tar/dev.jpg", "reject", "special_member", note="character device member"),
        Kind("tar_fifo_member", src, "00000.tar/fifo.jpg", "reject", "special_member", note="FIFO member"),
        Kind("tar_member_over_cap", src, "00002.tar/big", "reject", "too_large",
             note="gzip tar of 20 kB whose member expands to 20 MiB, over max_record_bytes (16 MiB here): not inflated into memory"),
        Kind("tar_after_big_member", src, "00002.tar/k6", "accept", note="the member after it is read"),
        Kind("tar_fifo", src, "00003.tar", "reject", "not_a_regular_file", note="a FIFO named .tar"),
        Kind("tar_truncated_good_member", src, "00001.tar/k3", "accept", note="members before the cut are read"),
        Kind("tar_truncated", src, "00001.tar", "reject", "corrupt_tar", note="tar cut inside a member"),
    ]


def _videos(base: Path, rng: np.random.Generator) -> list[Kind]:
    from uvd_pipeline.samples.videos import Scene, write_video

    base.mkdir(parents=True)
    src = "videos"
    write_video(base / "ok.avi", "MJPG", (f for f, _, _ in Scene(rng, 64, 48).frames(12)))
    write_video(base / "short.avi", "MJPG", (f for f, _, _ in Scene(rng, 64, 48).frames(3)))
    (base / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + rng.bytes(3000))
    (base / "zero_byte.mp4").write_bytes(b"")
    return [
        Kind("video_control", src, "ok.avi", "accept", note="control"),
        Kind("video_too_short", src, "short.avi", "reject", "video_too_short", note="3 frames; a 4-frame clip needs 4 even at stride 1"),
        Kind("video_not_decoding", src, "corrupt.mp4", "reject", "unreadable_video", note="ftyp box then random bytes"),
        Kind("video_zero_byte", src, "zero_byte.mp4", "reject", "unreadable_video", note="0 bytes"),
    ]


def _frames(base: Path, rng: np.random.Generator) -> list[Kind]:
    src = "frames"
    for name, n in (("ok", 5), ("short", 2), ("broken", 5)):
        (base / name).mkdir(parents=True)
        for i in range(n):
            data = _png(picture(rng, 32, 24))
            (base / name / f"{i:05d}.png").write_bytes(data[: len(data) // 2] if name == "broken" and i == 2 else data)
    return [
        Kind("frames_control", src, "ok", "accept", note="control"),
        Kind("frames_too_short", src, "short", "reject", "video_too_short", note="2 frames for a 4-frame clip"),
        Kind("frames_corrupt_frame", src, "broken", "reject", "corrupt_image", note="a sampled frame is cut in half"),
    ]


def glb_bytes(scene_or_mesh: Any) -> bytes:
    return scene_or_mesh.export(file_type="glb")


def nan_glb() -> bytes:
    """A box whose first vertex is NaN, written as a real GLB (trimesh's exporter chokes on NaN
    bounds, so the float buffer is patched after export)."""
    import trimesh

    box = trimesh.creation.box()
    data = bytearray(glb_bytes(box))
    json_len = struct.unpack("<I", data[12:16])[0]
    header = json.loads(data[20 : 20 + json_len])
    accessor = header["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    view = header["bufferViews"][header["accessors"][accessor]["bufferView"]]
    bin_start = 20 + json_len + 8
    at = bin_start + view.get("byteOffset", 0) + header["accessors"][accessor].get("byteOffset", 0)
    data[at : at + 4] = struct.pack("<f", float("nan"))
    return bytes(data)


def _meshes(base: Path, rng: np.random.Generator) -> list[Kind]:
    import trimesh

    base.mkdir(parents=True)
    src = "meshes"
    (base / "ok.glb").write_bytes(glb_bytes(trimesh.creation.box()))
    (base / "no_faces.glb").write_bytes(glb_bytes(trimesh.Scene([trimesh.PointCloud(rng.uniform(-1, 1, (20, 3)))])))
    (base / "nan_vertices.glb").write_bytes(nan_glb())
    robot = glb_bytes(trimesh.creation.icosphere(2))
    (base / "truncated.glb").write_bytes(robot[: len(robot) // 2])
    (base / "dense.glb").write_bytes(glb_bytes(trimesh.creation.icosphere(4)))  # 5120 faces, over max_faces
    return [
        Kind("mesh_control", src, "ok.glb", "accept", note="control"),
        Kind("glb_no_faces", src, "no_faces.glb", "reject", "empty_mesh", note="a point cloud, no triangles"),
        Kind("glb_nan_vertices", src, "nan_vertices.glb", "reject", "nan_vertices", note="a NaN coordinate"),
        Kind("glb_truncated", src, "truncated.glb", "reject", "unreadable_mesh", note="GLB cut in half"),
        Kind("glb_over_face_limit", src, "dense.glb", "reject", "mesh_too_large", note="5120 faces, max_faces 2000"),
    ]


PAIRS_1 = {"plugin": "pairs", "params": {"pairs": 1}}


def make_corpus(root: Path, seed: int = 0) -> tuple[list[Kind], dict[str, Any]]:
    """Write the corpus under root; returns its kinds and a recipe reading every source of it."""
    from .corpus_annotated import make_ava, make_coco, make_dense, make_jhmdb, make_objaverse, make_paired

    root = Path(root)
    rng = np.random.default_rng(seed)
    kinds = []
    for make, sub in ((_images, "images"), (_webdataset, "wds"), (_videos, "videos"), (_frames, "frames"),
                      (_meshes, "meshes"), (make_coco, "coco"), (make_paired, "paired"), (make_jhmdb, "jhmdb_root"),
                      (make_dense, "dense"), (make_objaverse, "objaverse"), (make_ava, "ava_root")):
        kinds += make(root / sub, rng)
    mesh = {"size": 32, "sequence_length": 4, "max_faces": 2000}
    recipe = {
        "name": "bad_input_corpus",
        "seed": 0,
        "tokenizer": {"preset": "tiny", "batch_size": 16},
        "preprocess": {"max_record_bytes": 16 * 2**20},
        "sources": [
            {"name": "images", "plugin": "image_folder", "params": {"path": str(root / "images"), "unit_size": 5},
             "category": "unlabelled_images"},
            {"name": "wds", "plugin": "webdataset", "params": {"path": str(root / "wds")}, "category": "unlabelled_images"},
            {"name": "videos", "plugin": "video", "params": {"path": str(root / "videos"), "frames": 4, "strides": [2]},
             "category": "unlabelled_videos", "task": "video", "sequencer": {"plugin": "video_clip"}},
            {"name": "frames", "plugin": "frame_folder", "params": {"path": str(root / "frames"), "frames": 4, "strides": [1]},
             "category": "unlabelled_videos", "task": "video", "sequencer": {"plugin": "video_clip"}},
            {"name": "meshes", "plugin": "meshes", "params": {"path": str(root / "meshes"), **mesh},
             "category": "synthetic_3d", "task": "orbit", "sequencer": {"plugin": "orbit"}},
            {"name": "coco", "plugin": "coco", "category": "annotated_images", "task": "coco_boxes",
             "params": {"images": str(root / "coco" / "images"),
                        "annotations": [str(root / "coco" / "annotations" / n) for n in ("instances.json", "keypoints.json", "no_images.json", "not_json.json")],
                        "kind": "all"},
             "renderers": [{"plugin": "coco_boxes"}], "sequencer": PAIRS_1},
            {"name": "pairs", "plugin": "paired", "params": {"pairs_file": str(root / "paired" / "pairs.csv")},
             "category": "annotated_images", "task": "derain", "sequencer": PAIRS_1},
            {"name": "jhmdb", "plugin": "jhmdb_video", "params": {"path": str(root / "jhmdb_root" / "jhmdb"), "frames": 2, "strides": [1]},
             "category": "annotated_videos", "task": "video_pose", "renderers": [{"plugin": "openpose"}],
             "sequencer": {"plugin": "annotated_video"}},
            {"name": "dense", "plugin": "dense_maps",
             "params": {"images": str(root / "dense" / "images"), "maps": {"depth": str(root / "dense" / "depth")}},
             "category": "annotated_images", "task": "depth", "renderers": [{"plugin": "depth_map"}], "sequencer": PAIRS_1},
            {"name": "objaverse", "plugin": "objaverse",
             "params": {"cache_dir": str(root / "objaverse" / "hf-objaverse-v1"), "uids": [c * 32 for c in "abcd"], **mesh},
             "category": "synthetic_3d", "task": "orbit", "sequencer": {"plugin": "orbit"}},
            {"name": "ava", "plugin": "ava_video",
             "params": {"path": str(root / "ava_root" / "ava" / "videos"), "annotations": str(root / "ava_root" / "ava" / "annotations.csv"),
                        "frames": 2, "strides": [1]},
             "category": "annotated_videos", "task": "video_detection", "renderers": [{"plugin": "coco_boxes"}],
             "sequencer": {"plugin": "annotated_video"}},
        ],
    }
    return kinds, recipe


def _recipe_text(corpus_root: Path, source_patch: dict[str, Any], recipe_patch: dict[str, Any]) -> str:
    import yaml

    src = {"name": "images", "plugin": "image_folder", "params": {"path": str(corpus_root / "images")},
           "category": "unlabelled_images", **source_patch}
    return yaml.safe_dump({"name": "bad", "sources": [src], **recipe_patch})


#: recipes that must fail before any work (exit 2, no output folder): name -> (patch of the one
#: source, patch of the recipe, text the error must contain: the field at fault)
BAD_RECIPES: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "invalid_category": ({"category": "holiday_snaps"}, {}, "sources[0].category"),
    "unknown_field": ({"colour": "red"}, {}, "sources[0].colour"),
    "invalid_plugin_param": ({"params": {"path": "x", "unit_size": -3}}, {}, "sources[0].params.unit_size"),
    "unknown_plugin": ({"plugin": "no_such_source"}, {}, "sources[0].plugin"),
    "unknown_sequencer": ({"sequencer": {"plugin": "no_such_sequencer"}}, {}, "sources[0].sequencer.plugin"),
    "dotted_import_path": ({"plugin": "uvd_pipeline.sources.image_folder:ImageFolderSource"}, {}, "sources[0].plugin"),
    "missing_input_folder": ({"params": {"path": "/nonexistent/uvd/images"}}, {}, "sources[0](images,pluginimage_folder)"),
    "missing_checkpoint": ({}, {"tokenizer": {"checkpoint": "/nonexistent/uvd/vqgan"}}, "tokenizer.checkpoint"),
    "not_a_mapping": ({}, {"sources": "all of them"}, "sources"),
    "negative_pixel_limit": ({}, {"preprocess": {"max_image_pixels": -5}}, "preprocess.max_image_pixels"),
    "infinite_weight": ({"weight": float("inf")}, {}, "sources[0].weight"),
}


def write_bad_recipe(corpus_root: Path, folder: Path, name: str) -> Path:
    source_patch, recipe_patch, _ = BAD_RECIPES[name]
    path = folder / f"{name}.yaml"
    path.write_text(_recipe_text(corpus_root, source_patch, recipe_patch))
    return path
