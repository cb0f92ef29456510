import io
import json
import tarfile

from PIL import Image

from uvd_pipeline.sources.webdataset import WebDatasetSource
from uvd_pipeline.types import Item, Reject, WorkUnit


def read_unit(src, payload):
    return list(src.read(WorkUnit("u", "s", 0, payload)))


def add(tar, name, data=b"", kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def jpeg(colour=(10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(buf, format="JPEG")
    return buf.getvalue()


def test_img2dataset_tars_one_unit_each(samples):
    src = WebDatasetSource(path=str(samples / "webdataset"))
    units = src.units()
    assert [u["tar"] for u in units] == ["00000.tar", "00001.tar"]
    items = read_unit(src, units[0])
    assert len(items) == 24 and all(isinstance(i, Item) for i in items)
    first = items[0]
    assert first.record == "00000.tar/000000000"
    assert first.meta["caption"].startswith("a synthetic scene") and first.meta["key"] == "000000000"


def test_unsafe_members_links_and_missing_images_are_rejects(tmp_path):
    d = tmp_path / "wds"
    d.mkdir()
    with tarfile.open(d / "00000.tar", "w") as tar:
        add(tar, "a.jpg", jpeg())
        add(tar, "a.json", json.dumps({"caption": "ok"}).encode())
        add(tar, "../evil.jpg", jpeg())
        add(tar, "/abs.jpg", jpeg())
        add(tar, "link.jpg", kind=tarfile.SYMTYPE, link="/etc/passwd")
        add(tar, "b.json", b"{}")
        add(tar, "c.jpg", b"garbage")
    src = WebDatasetSource(path=str(d))
    got = read_unit(src, src.units()[0])
    reasons = {g.record: g.reason for g in got if isinstance(g, Reject)}
    assert reasons == {
        "00000.tar/../evil.jpg": "unsafe_member_path",
        "00000.tar//abs.jpg": "unsafe_member_path",
        "00000.tar/link.jpg": "link_member",
        "00000.tar/b": "no_image",
        "00000.tar/c": "not_an_image",
    }
    (item,) = [g for g in got if isinstance(g, Item)]
    assert item.meta["caption"] == "ok"


def test_truncated_tar_keeps_what_was_read(tmp_path):
    d = tmp_path / "wds"
    d.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for k in range(3):
            add(tar, f"{k}.jpg", jpeg((k * 40, 0, 0)))
    data = buf.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        last = tar.getmembers()[-1]
    (d / "00000.tar").write_bytes(data[: last.offset_data + 10])  # cut inside the last member
    src = WebDatasetSource(path=str(d))
    got = read_unit(src, src.units()[0])
    assert any(isinstance(g, Item) for g in got)
    assert isinstance(got[-1], Reject) and got[-1].reason == "corrupt_tar"
