"""The estimator interface, with a real (tiny, seeded) torch model as the estimator's weights."""

import numpy as np
import pytest

from uvd_pipeline.estimators import Estimator, resolve_device
from uvd_pipeline.renderers.dense import depth_to_image
from uvd_pipeline.types import Image, Item

torch = pytest.importorskip("torch")


class TinyDepth(Estimator):
    """A user-style estimator: weights from a file, a conv net predicting depth."""

    calls = 0

    def load(self, device):
        TinyDepth.calls += 1
        net = torch.nn.Conv2d(3, 1, 3, padding=1)
        net.load_state_dict(torch.load(self.weights, weights_only=True))
        return net.to(device).eval()

    def predict(self, pixels, item):
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            return self.model(x.to(self.device))[0, 0].abs().cpu().numpy() + 0.1

    def draw(self, prediction, item):
        return depth_to_image(prediction)


def test_estimator_loads_once_predicts_and_draws(tmp_path):
    torch.manual_seed(0)
    torch.save(torch.nn.Conv2d(3, 1, 3, padding=1).state_dict(), tmp_path / "w.pt")
    TinyDepth.weights = tmp_path / "w.pt"
    est = TinyDepth(device="cpu")
    est.setup()
    pixels = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    item = Item("r", Image("i", pixels))
    a, b = est.render(item), est.render(item)
    assert TinyDepth.calls == 1 and est.needs_gpu
    assert a.shape == (24, 32, 3) and np.array_equal(a, b) and a.max() == 255
    assert len(est.predict_batch([(pixels, item), (pixels, item)])) == 2
    est.teardown()
    assert est.model is None


def test_device_auto_resolves_to_what_exists():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
