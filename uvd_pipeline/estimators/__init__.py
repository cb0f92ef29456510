"""Estimators: models that predict an annotation from pixels (pseudo-labels) and draw it.

An estimator is a Renderer (so a recipe lists it under `renderers:` and its drawing becomes a view
like any other annotation) with three parts to implement: `load` (weights the user supplies, once
per worker, in `setup`), `predict` (pixels -> prediction) and `draw` (prediction -> RGB image at
the item's size). `needs_gpu` tells engines to place it on a GPU worker. Built in:

- `canny_edges`: OpenCV Canny, CPU, no weights (extra `video` or `edges` for OpenCV);
- `mmpose_pose`: MMPose top-down keypoints drawn as OpenPose skeletons (extra `pose`, docs/POSE.md);
- `onnx_map`: any depth / normals / edges / segmentation network the user exports to ONNX, drawn as
  the dense-map renderers draw annotated maps (extra `onnx`).
"""

from .base import Estimator, EstimatorParams, resolve_device

__all__ = ["Estimator", "EstimatorParams", "resolve_device"]
