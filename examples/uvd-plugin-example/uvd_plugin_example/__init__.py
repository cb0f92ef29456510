"""Example uvd_pipeline plugins: hand keypoints read from a CSV and drawn as a 21-point skeleton.

Registered through entry points (see pyproject.toml), never imported by uvd_pipeline itself:

- source    `hand_keypoints_csv`  -> uvd_plugin_example.source.HandKeypointsCsvSource
- renderer  `hand_skeleton`       -> uvd_plugin_example.renderer.HandSkeletonRenderer
- sequencer `hand_pose_pairs`     -> uvd_plugin_example.sequencer.HandPosePairsSequencer
"""

__version__ = "0.1.0"
