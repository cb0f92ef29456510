"""A tiny MMPose model with seeded random weights: the files a user gives `mmpose_pose`, written
here so that its conformance example and tests download nothing."""

from __future__ import annotations

from pathlib import Path

TINY_MMPOSE_CONFIG = """
codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(8, 8), sigma=2)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18),
    head=dict(type='HeatmapHead', in_channels=512, out_channels=17, deconv_out_channels=(32, 32),
              deconv_kernel_sizes=(4, 4),
              loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=False))
test_pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                 dict(type='TopdownAffine', input_size=codec['input_size']), dict(type='PackPoseInputs')]
test_dataloader = dict(dataset=dict(type='CocoDataset', data_mode='topdown', pipeline=test_pipeline))
"""


def write_tiny_mmpose_model(folder: Path) -> tuple[str, str]:
    """(config, checkpoint) of a tiny 17-keypoint top-down MMPose model with weights from seed 0,
    the files a user gives `mmpose_pose`; needs mmpose and torch."""
    import torch
    from mmengine.config import Config
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules

    register_all_modules()
    folder.mkdir(parents=True, exist_ok=True)
    config, checkpoint = folder / "tiny.py", folder / "tiny.pth"
    config.write_text(TINY_MMPOSE_CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    return str(config), str(checkpoint)
