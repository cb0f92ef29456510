"""Filters: plugins that score an image for curation; the recipe's thresholds decide what is kept.

A filter subclasses `uvd_pipeline.stages.Filter`: `score(SignatureImage) -> {score: float}` runs
once per image in the curation pass and the scores are stored; `check(scores)` applies the
thresholds (Params fields listed in `threshold_fields`) to stored scores, so a threshold can
change without scoring again. Built in (docs/FILTERS.md):

- `image_stats`: shortest side, aspect ratio, grey mean/std (near-blank), Laplacian variance
  (blur); numpy and Pillow only;
- `nsfw`: NudeNet's detector (its ONNX model ships in the `nudenet` wheel; extra `safety`);
- `onnx_score`: a scorer the user exports to ONNX (aesthetic, watermark ...), pinned by sha256
  (extra `onnx`).
"""
