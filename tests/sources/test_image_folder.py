import numpy as np
from PIL import Image

from uvd_pipeline.ids import bytes_id
from uvd_pipeline.sources.image_folder import ImageFolderSource
from uvd_pipeline.types import Item, Reject, WorkUnit


def read_all(src, payloads):
    out = []
    for i, p in enumerate(payloads):
        out += list(src.read(WorkUnit(f"u{i}", "s", i, p)))
    return out


def test_units_are_deterministic_chunks(samples):
    src = ImageFolderSource(path=str(samples / "images"), unit_size=10)
    a, b = src.units(), src.units()
    assert a == b
    files = [f for p in a for f in p["files"]]
    assert files == sorted(files) and len(files) == 50  # 48 images + 2 bad files
    assert [len(p["files"]) for p in a] == [10, 10, 10, 10, 10]


def test_reads_every_mode_to_rgb_and_rejects_bad_files(samples):
    src = ImageFolderSource(path=str(samples / "images"), unit_size=64)
    got = read_all(src, src.units())
    items = [g for g in got if isinstance(g, Item)]
    rejects = {g.record: g.reason for g in got if isinstance(g, Reject)}
    assert len(items) == 48
    assert rejects == {"set0/truncated.jpg": "corrupt_image", "set1/not_an_image.png": "not_an_image"}
    for it in items:
        assert it.image.pixels.dtype == np.uint8 and it.image.pixels.shape[2] == 3
        assert it.image.id == bytes_id((samples / "images" / it.record).read_bytes())


def test_exif_orientation_follows_the_preprocess_exif_policy(tmp_path):
    from uvd_pipeline.images import set_exif_policy

    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    (tmp_path / "d").mkdir()
    img.save(tmp_path / "d" / "r.jpg", exif=exif)
    src = ImageFolderSource(path=str(tmp_path / "d"))
    (item,) = read_all(src, src.units())
    assert item.image.pixels.shape[:2] == (20, 40)  # default "ignore": stored layout, as LVM
    set_exif_policy("apply")
    try:
        (item,) = read_all(src, src.units())
    finally:
        set_exif_policy("ignore")
    assert item.image.pixels.shape[:2] == (40, 20)


def test_decompression_bomb_is_a_reject(tmp_path):
    from uvd_pipeline.images import set_pixel_limit

    (tmp_path / "d").mkdir()
    Image.new("RGB", (200, 200)).save(tmp_path / "d" / "big.png")
    set_pixel_limit(10_000)
    try:
        src = ImageFolderSource(path=str(tmp_path / "d"))
        (got,) = read_all(src, src.units())
    finally:
        set_pixel_limit(89_478_485)
    assert isinstance(got, Reject) and got.reason == "decompression_bomb"
