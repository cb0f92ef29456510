import numpy as np
import pytest

pytest.importorskip("cv2", reason="canny_edges needs OpenCV (extra 'edges' or 'video')")

from uvd_pipeline import registry  # noqa: E402
from uvd_pipeline.estimators import Estimator  # noqa: E402
from uvd_pipeline.estimators.canny import CannyEstimator, canny_edges  # noqa: E402
from uvd_pipeline.types import Image, Item  # noqa: E402

from ..renderers.golden import check_golden  # noqa: E402


def _picture():
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :] = (30, 60, 90)
    img[10:30, 8:28] = (220, 200, 180)
    yy, xx = np.mgrid[0:48, 0:64]
    img[(yy - 28) ** 2 + (xx - 46) ** 2 < 100] = (250, 40, 40)
    return img


def test_canny_golden():
    item = Item("r", Image("i", _picture()))
    est = CannyEstimator()
    est.setup()
    check_golden("canny_edges", est.render(item))


def test_canny_finds_the_square_outline_on_black():
    out = canny_edges(_picture())
    assert out.shape == (48, 64, 3) and set(np.unique(out).tolist()) == {0, 255}
    assert out[20, 8:10].max() == 255 or out[20, 6:10].max() == 255  # left edge of the square
    assert out[20, 15, 0] == 0 and out[2, 2, 0] == 0  # flat regions have no edges
    assert not canny_edges(np.full((20, 20, 3), 90, np.uint8)).any()


def test_canny_is_a_registered_cpu_estimator_renderer():
    cls = registry.load("renderer", "canny_edges")
    assert issubclass(cls, Estimator) and cls.needs_gpu is False
    with pytest.raises(ValueError):
        CannyEstimator(low_threshold=300, high_threshold=100)
