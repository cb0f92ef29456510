import numpy as np
import pytest
from PIL import Image as PILImage

from uvd_pipeline.errors import BadInput
from uvd_pipeline.renderers.dense import (
    DepthMapRenderer,
    EdgeMapRenderer,
    NormalMapRenderer,
    SegmentationMapRenderer,
    depth_to_image,
    edges_to_image,
    normals_to_image,
)
from uvd_pipeline.renderers.palette import colours_to_ids
from uvd_pipeline.types import Image, Item

from .golden import check_golden

W, H = 40, 30


def _depth():
    yy, xx = np.mgrid[0:H, 0:W]
    d = 1.0 + 4.0 * yy / (H - 1) + 0.5 * xx / (W - 1)
    d[:3, :3] = 0  # invalid
    return d


def _normals():
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    n = np.dstack([(xx - W / 2) / W, (yy - H / 2) / H, np.ones_like(xx)])
    return (n / np.linalg.norm(n, axis=2, keepdims=True)).astype(np.float32)


def _ids():
    ids = np.zeros((H, W), np.uint8)
    ids[5:20, 5:20] = 7
    ids[10:28, 22:38] = 200
    return ids


@pytest.fixture
def map_files(tmp_path):
    PILImage.fromarray(np.round(_depth() * 1000).astype(np.uint16)).save(tmp_path / "depth.png")
    np.save(tmp_path / "depth.npy", _depth().astype(np.float32))
    np.save(tmp_path / "normals.npy", _normals())
    edges = np.zeros((H, W), np.uint8)
    edges[5, 5:20] = 255
    edges[5:20, 20] = 128
    PILImage.fromarray(edges).save(tmp_path / "edges.png")
    seg = PILImage.fromarray(_ids(), mode="L").convert("P")
    seg.putpalette([v for k in range(256) for v in (k, 0, 0)])
    seg.save(tmp_path / "segmentation.png")
    PILImage.fromarray(_ids().astype(np.uint16) * 300).save(tmp_path / "seg16.png")
    return tmp_path


def _item(maps):
    return Item("r", Image("i", np.zeros((H, W, 3), np.uint8)), meta={"maps": {k: str(v) for k, v in maps.items()}})


def test_dense_goldens(map_files):
    item = _item({k: map_files / f for k, f in
                  [("depth", "depth.png"), ("normals", "normals.npy"), ("edges", "edges.png"), ("segmentation", "segmentation.png")]})
    check_golden("depth_map", DepthMapRenderer().render(item))
    check_golden("normal_map", NormalMapRenderer().render(item))
    check_golden("edge_map", EdgeMapRenderer().render(item))
    check_golden("segmentation_map", SegmentationMapRenderer().render(item))


def test_depth_is_normalised_inverse_depth(map_files):
    png = DepthMapRenderer().render(_item({"depth": map_files / "depth.png"}))
    npy = DepthMapRenderer().render(_item({"depth": map_files / "depth.npy"}))
    assert np.abs(png.astype(int) - npy.astype(int)).max() <= 1  # 16-bit millimetres vs float metres
    g = png[..., 0]
    assert (png[..., 0] == png[..., 1]).all() and (png[..., 0] == png[..., 2]).all()
    assert g[:3, :3].max() == 0  # invalid depth is black
    assert g[0, 3] == 255 and g[H - 1, W - 1] == 0  # nearest bright, farthest black
    assert g[10, 5] > g[20, 5]  # nearer rows are brighter
    d = _depth()
    inv = depth_to_image(np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0.0), stores="inverse_depth")[..., 0]
    assert inv[0, 3] == 255 and inv[0, 0] == 0  # files of inverse depth: 0 is infinitely far


def test_normals_encode_as_n_plus_one_over_two(map_files):
    out = normals_to_image(np.array([[[0, 0, 1], [1, -1, 0]]], dtype=np.float32))
    assert out.tolist() == [[[128, 128, 255], [255, 0, 128]]]
    rgb = np.full((2, 2, 3), 77, np.uint8)
    assert np.array_equal(normals_to_image(rgb), rgb)  # already-encoded files pass through
    with pytest.raises(BadInput):
        normals_to_image(np.full((2, 2, 3), np.nan))
    with pytest.raises(BadInput):
        normals_to_image(np.zeros((2, 2)))


def test_edges_accept_float_and_uint8():
    f = np.array([[0.0, 0.5, 1.0]])
    assert edges_to_image(f)[0, :, 0].tolist() == [0, 128, 255]
    assert edges_to_image(np.array([[0, 200]], np.uint8))[0, :, 1].tolist() == [0, 200]


def test_segmentation_map_ids_invert_and_16bit_out_of_palette_is_rejected(map_files):
    out = SegmentationMapRenderer().render(_item({"segmentation": map_files / "segmentation.png"}))
    assert np.array_equal(colours_to_ids(out), _ids())
    assert SegmentationMapRenderer.resample == "nearest"
    with pytest.raises(BadInput, match="0..255"):
        SegmentationMapRenderer().render(_item({"segmentation": map_files / "seg16.png"}))


def test_missing_map_key_gives_no_view_and_broken_files_are_bad_input(map_files):
    assert DepthMapRenderer().render(_item({})) is None
    (map_files / "broken.npy").write_bytes(b"not numpy")
    with pytest.raises(BadInput):
        DepthMapRenderer().render(_item({"depth": map_files / "broken.npy"}))
    with pytest.raises(BadInput):
        DepthMapRenderer().render(_item({"depth": map_files / "nope.png"}))
    np.save(map_files / "zero.npy", np.zeros((4, 4)))
    with pytest.raises(BadInput, match="no valid depth"):
        DepthMapRenderer().render(_item({"depth": map_files / "zero.npy"}))
    renamed = DepthMapRenderer(map="z").render(_item({"z": map_files / "depth.npy"}))
    assert renamed is not None
