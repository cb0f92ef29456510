"""Renderers: an item's annotation drawn as an RGB image at the item's native resolution.

The pipeline resizes every rendering to 256x256 afterwards (nearest-neighbour for label maps, see
`Renderer.resample`). What each renderer reads from `item.meta`:

- `coco_boxes`        meta["annotations"][i]: {"bbox": [x, y, w, h], "category_id": int}
- `openpose`          meta["annotations"][i]: {"keypoints": 17 x (x, y, v) in COCO order}
- `coco_segmentation` meta["annotations"][i]: {"segmentation": polygons | RLE, "category_id", "area"}
- `depth_map`, `normal_map`, `edge_map`, `segmentation_map`
                      meta["maps"][name]: the URL of a map file (PNG / 16-bit PNG / TIFF / .npy)

Shared pieces: `palette` (the fixed 256-colour segmentation palette and the box colours),
`openpose.draw_openpose` (used by pose estimators too), `dense` (map-to-image conversions).
"""

from .palette import box_colour, colours_to_ids, ids_to_colours, segmentation_palette

__all__ = ["box_colour", "colours_to_ids", "ids_to_colours", "segmentation_palette"]
