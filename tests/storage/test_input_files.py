"""Input files are read safely (storage/input_files.py, paths.list_files): regular files only, never
outside the input folder unless the recipe allows it, and at most max_record_bytes per record or
tar member, checked before reading or decompressing. Real FIFOs, symlinks, sparse files and
gzip-compressed tars, built here."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import struct
import textwrap
import zlib

import pytest
from PIL import Image

from uvd_pipeline.errors import BadInput
from uvd_pipeline.storage import list_folder, read_bytes, read_record_bytes, set_input_policy
from uvd_pipeline.storage.input_files import DEFAULT_MAX_RECORD_BYTES, check_input


@pytest.fixture(autouse=True)
def default_policy():
    set_input_policy()
    yield
    set_input_policy()


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def folder(tmp_path):
    """root/ with a good file, a FIFO, links inside and outside, a folder link outside and a loop."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    (root / "ok.png").write_bytes(_png())
    (outside / "secret.png").write_bytes(_png())
    os.mkfifo(root / "fifo.png")
    (root / "inside_link.png").symlink_to(root / "ok.png")
    (root / "outside_link.png").symlink_to(outside / "secret.png")
    (root / "outside_dir").symlink_to(outside, target_is_directory=True)
    (root / "sub").mkdir()
    (root / "sub" / "b.png").write_bytes(_png())
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    return root, outside


def test_listing_names_special_files_but_enters_no_folder_outside_and_no_loop(folder, caplog):
    root, _ = folder
    _, files = list_folder(str(root), ["png"])
    assert files == ["fifo.png", "inside_link.png", "ok.png", "outside_link.png", "sub/b.png"]
    assert "outside_dir" in caplog.text and "not entered" in caplog.text


def test_listing_enters_a_folder_outside_when_the_recipe_allows(folder):
    root, _ = folder
    set_input_policy(follow_links_outside_input=True)
    _, files = list_folder(str(root), ["png"])
    assert "outside_dir/secret.png" in files and not any("loop" in f for f in files)


def _refusal(url: str, root: str | None = None) -> tuple[str, str]:
    with pytest.raises(BadInput) as info:
        read_record_bytes(url, root)
    return info.value.reason, info.value.detail


def test_fifo_is_refused_without_blocking(folder):
    root, _ = folder
    reason, detail = _refusal(str(root / "fifo.png"), str(root))  # opening it for reading would block
    assert reason == "not_a_regular_file" and "FIFO" in detail


def test_device_is_refused():
    assert _refusal("/dev/zero") [0] == "not_a_regular_file"


def test_link_leaving_the_root_is_refused_unless_allowed(folder):
    root, outside = folder
    reason, detail = _refusal(str(root / "outside_link.png"), str(root))
    assert reason == "link_outside_input" and str(outside) in detail
    assert read_record_bytes(str(root / "inside_link.png"), str(root)) == _png()
    set_input_policy(follow_links_outside_input=True)
    assert read_record_bytes(str(root / "outside_link.png"), str(root)) == _png()


def test_links_and_dots_anywhere_below_the_root_get_the_realpath_rule(folder, tmp_path):
    """check_input takes a one-lstat path for plain names below the root; links and dots in any
    part fall back to resolving: the decision equals `realpath(path)` inside `realpath(root)`."""
    root, outside = folder
    (tmp_path / "root_link").symlink_to(root, target_is_directory=True)
    names = ["ok.png", "sub/b.png", "sub/./b.png", "sub/../ok.png", "outside_dir/secret.png",
             "sub/../outside_dir/secret.png", "sub/loop/ok.png", "sub/loop/outside_link.png",
             "inside_link.png", "outside_link.png", "../outside/secret.png"]
    for root_form in (str(root), str(root) + os.sep, str(tmp_path / "root_link")):
        for name in names:
            path = os.path.join(root_form, name)
            inside = os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)
            try:
                check_input(path, root_form)
                refused = None
            except BadInput as exc:
                refused = exc.reason
            assert refused == (None if inside else "link_outside_input"), (root_form, name)


def test_file_over_the_cap_is_refused_before_reading(tmp_path):
    sparse = tmp_path / "sparse.png"
    with open(sparse, "wb") as f:
        f.truncate(3 * 2**30)  # 3 GiB, no block written
    reason, detail = _refusal(str(sparse))
    assert reason == "too_large" and f"{3 * 2**30} bytes over preprocess.max_record_bytes={DEFAULT_MAX_RECORD_BYTES}" in detail
    set_input_policy(max_record_bytes=1000)
    small = tmp_path / "small.png"
    small.write_bytes(b"x" * 1000)
    assert read_record_bytes(str(small)) == b"x" * 1000
    small.write_bytes(b"x" * 1001)
    assert _refusal(str(small))[0] == "too_large"
    assert read_bytes(str(small)) == b"x" * 1001  # not a record (an annotation file): no cap



def test_file_that_grows_while_read_is_read_whole_or_refused_over_the_cap(tmp_path, monkeypatch):
    """A record is read by the size it declares; one that grew between the size check and the read
    (the size taken while it was 40 bytes) is still read to its end, or refused past the cap."""
    from uvd_pipeline.storage import input_files

    grown = tmp_path / "grown.jpg"
    grown.write_bytes(bytes(range(100)))
    monkeypatch.setattr(input_files, "_size", lambda f: 40)
    set_input_policy(max_record_bytes=1000)
    assert read_record_bytes(str(grown)) == bytes(range(100))
    set_input_policy(max_record_bytes=100)
    assert read_record_bytes(str(grown)) == bytes(range(100))
    set_input_policy(max_record_bytes=60)
    assert _refusal(str(grown))[0] == "too_large"
    monkeypatch.setattr(input_files, "_size", lambda f: None)  # a file object that declares no size
    assert _refusal(str(grown))[0] == "too_large"
    set_input_policy(max_record_bytes=100)
    assert read_record_bytes(str(grown)) == bytes(range(100))

def _tar_member(tar: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.type = len(data), kind
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _wds_rows(folder, max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES) -> list[tuple[str, str]]:
    from uvd_pipeline.registry import create_source
    from uvd_pipeline.types import Reject, WorkUnit

    set_input_policy(max_record_bytes)
    source = create_source("webdataset", {"path": str(folder)}, 0)
    rows = []
    for i, payload in enumerate(source.units()):
        got = list(source.read(WorkUnit(f"w-{i}", "w", i, payload)))
        assert source.count_records(payload) == len(got)
        rows += [(g.record, g.reason if isinstance(g, Reject) else "used") for g in got]
    return rows


def test_tar_special_members_and_members_over_the_cap_are_rejected(tmp_path):
    png = _png()
    body = io.BytesIO()
    with tarfile.open(fileobj=body, mode="w") as tar:
        _tar_member(tar, "k0.png", png)
        _tar_member(tar, "dev.png", kind=tarfile.CHRTYPE)
        _tar_member(tar, "pipe.png", kind=tarfile.FIFOTYPE)
        _tar_member(tar, "blk.png", kind=tarfile.BLKTYPE)
        _tar_member(tar, "big.png", bytes(5000))
        _tar_member(tar, "big2.png", png)
        _tar_member(tar, "big2.json", json.dumps({"caption": "x" * 5000}).encode())
        _tar_member(tar, "k1.png", png)
    (tmp_path / "00000.tar").write_bytes(gzip.compress(body.getvalue()))  # gzip tar named .tar
    os.mkfifo(tmp_path / "00001.tar")
    rows = _wds_rows(tmp_path, max_record_bytes=4096)
    assert sorted(rows) == sorted([
        ("00000.tar/k0", "used"), ("00000.tar/dev.png", "special_member"), ("00000.tar/pipe.png", "special_member"),
        ("00000.tar/blk.png", "special_member"), ("00000.tar/big", "too_large"), ("00000.tar/big2", "too_large"),
        ("00000.tar/k1", "used"), ("00001.tar", "not_a_regular_file"),
    ])


PEAK = textwrap.dedent("""
    import resource, sys
    from uvd_pipeline.registry import create_source
    from uvd_pipeline.sources.image_folder import read_image_file
    from uvd_pipeline.types import WorkUnit
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = [read_image_file(sys.argv[1], "sparse.png").reason]
    source = create_source("webdataset", {"path": sys.argv[2]}, 0)
    for i, payload in enumerate(source.units()):
        out += [g.reason for g in source.read(WorkUnit(f"w-{i}", "w", i, payload)) if hasattr(g, "reason")]
    print(out, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
""")


def gzip_tar_bomb(path, member: str, size: int) -> None:
    """A gzip-compressed tar holding one member of `size` zero bytes, written in a second or two
    whatever the size: after a full flush, deflate turns each further MiB of zeros into the same
    bytes, so the compressed MiB is written once and repeated. A valid gzip file (CRC, length)."""
    info = tarfile.TarInfo(member)
    info.size = size
    header = info.tobuf(tarfile.GNU_FORMAT)
    mib = bytes(2**20)
    assert size % len(mib) == 0
    end = bytes(-size % 512 + 1024)  # padding to a block, then the end-of-archive blocks
    deflate = zlib.compressobj(1, zlib.DEFLATED, -15)
    first = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    assert deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH) == block
    crc = zlib.crc32(header)
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + first)
        for _ in range(size // len(mib)):
            f.write(block)
            crc = zlib.crc32(mib, crc)
        f.write(deflate.compress(end) + deflate.flush())
        f.write(struct.pack("<II", zlib.crc32(end, crc), (len(header) + size + len(end)) % 2**32))


def test_multi_gib_inputs_are_refused_in_bounded_memory(tmp_path):
    """A 3 GiB sparse image file and a gzip tar (7 MB) whose member expands to 1.5 GiB, with the
    default cap (256 MiB): both rejected as too_large, and the reading process grows by under 64 MiB
    (reading either whole would take 1.5-3 GiB)."""
    sparse = tmp_path / "sparse.png"
    with open(sparse, "wb") as f:
        f.truncate(3 * 2**30)
    tars = tmp_path / "tars"
    tars.mkdir()
    gzip_tar_bomb(tars / "00000.tar", "bomb.png", 3 * 2**29)  # 1.5 GiB
    assert (tars / "00000.tar").stat().st_size < 16 * 2**20
    proc = subprocess.run([sys.executable, "-c", PEAK, str(sparse), str(tars)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reasons, grown_mib = proc.stdout.rsplit(" ", 1)
    # exactly two rejects: a gzip stream with a wrong CRC or length would add a corrupt_tar one
    assert reasons == "['too_large', 'too_large']" and int(grown_mib) < 64, proc.stdout
