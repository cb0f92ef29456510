"""Transforms: a 256x256 image -> a derived 256x256 image (corruption pairs), seeded per image.

The pipeline passes each transform a numpy Generator seeded from (recipe seed, source, image id,
transform name) and stores the result as the view named after the transform; the `pairs`
sequencer with `view_first: true` then makes (corrupted input, original) pairs.
"""

from .corruptions import ColorizationTransform, DenoiseTransform, InpaintingTransform, LowLightTransform

__all__ = ["ColorizationTransform", "DenoiseTransform", "InpaintingTransform", "LowLightTransform"]
