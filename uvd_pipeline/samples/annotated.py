"""Sample-world parts for annotated images, in the real formats, with a few deliberately bad records.

- `imagenet/train/<wnid>/*.JPEG`: ImageFolder classes (plus one truncated JPEG);
- `coco/`: images + instances.json + person_keypoints.json (boxes, polygons, uncompressed-RLE
  crowds, 17-keypoint people) + panoptic.json with panoptic/*.png with bad annotations: a missing field, a bad polygon, a keypoint
  outside the image, a negative-size box, a malformed RLE, an unknown category, an annotation of a
  missing image, and an image entry whose file is missing;
- `dense/`: images with depth (16-bit PNG / .npy), normals (.npy), edges (PNG) and segmentation
  (palette PNG) maps, one image lacking its depth map;
- `paired/`: rainy/ -> clean/ folders (one input without partner), pairs.csv and pairs.jsonl
  (each with a malformed row).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .pictures import picture

COCO_CATEGORIES = [
    {"id": 1, "name": "person", "supercategory": "person"},
    {"id": 2, "name": "bicycle", "supercategory": "vehicle"},
    {"id": 3, "name": "car", "supercategory": "vehicle"},
    {"id": 18, "name": "dog", "supercategory": "animal"},
    {"id": 62, "name": "chair", "supercategory": "furniture"},
]
KEYPOINT_NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip
SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
            [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]  # fmt: skip
# A standing person in a unit box (x right, y down), COCO keypoint order.
PERSON_TEMPLATE = np.array([
    [0.50, 0.08], [0.54, 0.06], [0.46, 0.06], [0.58, 0.08], [0.42, 0.08], [0.68, 0.25], [0.32, 0.25],
    [0.78, 0.42], [0.22, 0.42], [0.82, 0.58], [0.18, 0.58], [0.62, 0.55], [0.38, 0.55],
    [0.64, 0.76], [0.36, 0.76], [0.66, 0.96], [0.34, 0.96],
])  # fmt: skip
COCO_SIZES = [(160, 120), (200, 150), (128, 160), (180, 180), (224, 128)]


def _jpeg(img: Image.Image, path: Path, quality: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="JPEG", quality=quality)


def make_imagenet(root: Path, rng: np.random.Generator, classes: int = 8, per_class: int = 16) -> dict[str, int]:
    """`imagenet/train/<wnid>/<wnid>_<n>.JPEG`, each class tinted its own way, plus one truncated file."""
    base = root / "imagenet" / "train"
    for c in range(classes):
        wnid = f"n{1440764 + 1000 * c:08d}"
        tint = rng.integers(0, 255, 3)
        for n in range(per_class):
            w, h = int(rng.integers(80, 160)), int(rng.integers(80, 160))
            arr = np.asarray(picture(rng, w, h), dtype=np.float64) * 0.6 + tint * 0.4
            _jpeg(Image.fromarray(arr.astype(np.uint8)), base / wnid / f"{wnid}_{n:04d}.JPEG")
    buf = io.BytesIO()
    picture(rng, 64, 64).save(buf, format="JPEG")
    (base / "n01440764" / "n01440764_broken.JPEG").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    return {"imagenet_images": classes * per_class, "imagenet_classes": classes, "imagenet_bad": 1}


def _ellipse_polygon(cx: float, cy: float, rx: float, ry: float, n: int = 16) -> list[float]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.round(np.column_stack([cx + rx * np.cos(t), cy + ry * np.sin(t)]).ravel(), 2).tolist()


def _bbox(poly: list[float]) -> list[float]:
    xs, ys = poly[0::2], poly[1::2]
    return [round(min(xs), 2), round(min(ys), 2), round(max(xs) - min(xs), 2), round(max(ys) - min(ys), 2)]


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE: run lengths over the column-major flattening, starting with zeros."""
    flat = np.asarray(mask, dtype=np.uint8).ravel(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat[0] == 1:
        runs = [0] + runs
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(r) for r in runs]}


def _person(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int) -> tuple[list[float], list[float], list]:
    bw, bh = rng.uniform(0.25, 0.4) * w, rng.uniform(0.6, 0.85) * h
    x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
    pts = PERSON_TEMPLATE * [bw, bh] + [x, y]
    vis = np.full(17, 2)
    vis[rng.choice(17, size=int(rng.integers(0, 3)), replace=False)] = 1
    for a, b in SKELETON:
        draw.line([tuple(pts[a - 1]), tuple(pts[b - 1])], fill=(240, 220, 200), width=3)
    keypoints = np.column_stack([np.round(pts, 2), vis]).ravel().tolist()
    poly = _ellipse_polygon(x + bw / 2, y + bh / 2, bw / 2, bh / 2)
    return keypoints, poly, [round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)]


def make_coco(root: Path, rng: np.random.Generator, n_images: int = 20) -> dict[str, int]:
    """`coco/images/*.jpg`, `coco/annotations/{instances,person_keypoints}.json`."""
    base = root / "coco"
    images, instances, keypoints = [], [], []
    ann_id = 1
    for i in range(n_images):
        w, h = COCO_SIZES[i % len(COCO_SIZES)]
        img = picture(rng, w, h)
        draw = ImageDraw.Draw(img)
        name = f"{i + 1:012d}.jpg"
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
        for _ in range(int(rng.integers(1, 3))):
            cat = int(rng.choice([2, 3, 18, 62]))
            rx, ry = rng.uniform(0.1, 0.25) * w, rng.uniform(0.1, 0.25) * h
            cx, cy = rng.uniform(rx, w - rx), rng.uniform(ry, h - ry)
            poly = _ellipse_polygon(cx, cy, rx, ry)
            draw.polygon(list(zip(poly[0::2], poly[1::2])), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
            instances.append({"id": ann_id, "image_id": i + 1, "category_id": cat, "segmentation": [poly],
                              "bbox": _bbox(poly), "area": round(np.pi * rx * ry, 2), "iscrowd": 0})
            ann_id += 1
        kps, poly, box = _person(draw, rng, w, h)
        person = {"id": ann_id, "image_id": i + 1, "category_id": 1, "segmentation": [poly], "bbox": box,
                  "area": round(box[2] * box[3] * 0.7, 2), "iscrowd": 0}
        instances.append(person)
        keypoints.append({**person, "keypoints": kps, "num_keypoints": int(sum(v > 0 for v in kps[2::3]))})
        ann_id += 1
        if i % 5 == 0:  # a crowd region as uncompressed RLE
            mask = np.zeros((h, w), dtype=bool)
            mask[h - h // 5 :, : w // 3] = True
            instances.append({"id": ann_id, "image_id": i + 1, "category_id": 3, "segmentation": uncompressed_rle(mask),
                              "bbox": [0, h - h // 5, w // 3, h // 5], "area": int(mask.sum()), "iscrowd": 1})
            ann_id += 1
        _jpeg(img, base / "images" / name)
    panoptic = _write_panoptic(base, images, instances)
    bad = _bad_annotations(images, keypoints, ann_id)
    instances.extend(bad)
    images.append({"id": n_images + 1, "file_name": "missing_file.jpg", "width": 100, "height": 100})
    instances.append({"id": ann_id + 10, "image_id": n_images + 1, "category_id": 3, "bbox": [1, 1, 20, 20],
                      "segmentation": [[1, 1, 21, 1, 21, 21, 1, 21]], "area": 400, "iscrowd": 0})
    info = {"description": "uvd sample world", "version": "1.0"}
    kp_cat = {**COCO_CATEGORIES[0], "keypoints": KEYPOINT_NAMES, "skeleton": SKELETON}
    (base / "annotations").mkdir(parents=True, exist_ok=True)
    (base / "annotations" / "instances.json").write_text(
        json.dumps({"info": info, "images": images, "annotations": instances, "categories": COCO_CATEGORIES}))
    (base / "annotations" / "person_keypoints.json").write_text(
        json.dumps({"info": info, "images": images, "annotations": keypoints, "categories": [kp_cat]}))
    return {"coco_images": n_images, "coco_annotations": len(instances), "coco_bad_annotations": len(bad) + 2,
            "coco_panoptic_images": panoptic}


STUFF = {"id": 187, "name": "sky-other-merged", "supercategory": "sky", "isthing": 0}


def _write_panoptic(base: Path, images: list[dict], instances: list[dict]) -> int:
    """`coco/panoptic/*.png` (segment id = R + 256 G + 256^2 B) and `annotations/panoptic.json`:
    a stuff segment behind the objects, larger objects first; plus one segment with an unknown
    category and one annotation of a missing image."""
    (base / "panoptic").mkdir(parents=True, exist_ok=True)
    anns = []
    for img in images:
        canvas = Image.new("RGB", (img["width"], img["height"]), (1, 0, 0))  # segment 1: the stuff
        draw = ImageDraw.Draw(canvas)
        segments = [{"id": 1, "category_id": STUFF["id"], "iscrowd": 0}]
        own = sorted((a for a in instances if a["image_id"] == img["id"]), key=lambda a: -a["area"])
        for a in own:
            sid = a["id"] + 1
            colour = (sid % 256, sid // 256 % 256, sid // 65536)
            if isinstance(a["segmentation"], list):
                draw.polygon(list(zip(a["segmentation"][0][0::2], a["segmentation"][0][1::2])), fill=colour)
            else:
                x, y, w, h = a["bbox"]
                draw.rectangle([x, y, x + w - 1, y + h - 1], fill=colour)
            segments.append({"id": sid, "category_id": a["category_id"], "iscrowd": a["iscrowd"]})
        png = img["file_name"].replace(".jpg", ".png")
        canvas.save(base / "panoptic" / png)
        anns.append({"image_id": img["id"], "file_name": png, "segments_info": segments})
    anns[1]["segments_info"].append({"id": 999, "category_id": 250, "iscrowd": 0})  # unknown category
    anns.append({"image_id": 999_999, "file_name": "nowhere.png", "segments_info": []})  # missing image
    data = {"images": images, "annotations": anns, "categories": [{**c, "isthing": 1} for c in COCO_CATEGORIES] + [STUFF]}
    (base / "annotations").mkdir(parents=True, exist_ok=True)
    (base / "annotations" / "panoptic.json").write_text(json.dumps(data))
    return len(images)


def _bad_annotations(images: list[dict], keypoints: list[dict], next_id: int) -> list[dict]:
    """Deliberately broken annotations (each on an image that also has good ones)."""
    im = images
    bad = [
        {"id": next_id, "image_id": im[0]["id"], "bbox": [5, 5, 20, 20], "area": 400, "iscrowd": 0,
         "segmentation": [[5, 5, 25, 5, 25, 25]]},  # missing category_id
        {"id": next_id + 1, "image_id": im[1]["id"], "category_id": 3, "bbox": [5, 5, 20, 20], "area": 400,
         "iscrowd": 0, "segmentation": [[5, 5, 25, 5, 25]]},  # bad polygon (5 coordinates)
        {"id": next_id + 2, "image_id": im[3]["id"], "category_id": 18, "bbox": [30, 30, -10, 12], "area": 0,
         "iscrowd": 0},  # negative-size box
        {"id": next_id + 3, "image_id": im[4]["id"], "category_id": 3, "bbox": [0, 0, 10, 10], "area": 100,
         "iscrowd": 1, "segmentation": {"size": [im[4]["height"], im[4]["width"]], "counts": [10, 20, 30]}},  # bad RLE
        {"id": next_id + 4, "image_id": 999_999, "category_id": 3, "bbox": [1, 1, 5, 5], "area": 25,
         "iscrowd": 0},  # missing image
        {"id": next_id + 5, "image_id": im[5]["id"], "category_id": 77, "bbox": [1, 1, 5, 5], "area": 25,
         "iscrowd": 0},  # unknown category
    ]
    # A visible keypoint outside the image (the person of image 3, in the keypoints file only).
    kp = keypoints[2]
    kp["keypoints"][9 * 3] = float(images[2]["width"] + 40)
    kp["keypoints"][9 * 3 + 2] = 2
    return bad


def _scene(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, ...]:
    """A floor-and-objects scene: (rgb, depth in metres, unit normals, class ids)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    depth = 2.0 + 6.0 * (1.0 - yy / h)  # a floor receding to the top
    ids = np.full((h, w), 1, dtype=np.uint8)
    for k in range(int(rng.integers(2, 4))):
        cx, cy, r = rng.uniform(0.2, 0.8) * w, rng.uniform(0.3, 0.8) * h, rng.uniform(0.1, 0.2) * min(w, h)
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / r**2
        inside = d2 < 1
        sphere = rng.uniform(1.0, 1.8) - 0.4 * np.sqrt(np.clip(1 - d2, 0, 1))
        closer = inside & (sphere < depth)
        depth[closer] = sphere[closer]
        ids[closer] = 10 + 7 * k
    gy, gx = np.gradient(depth)
    normals = np.dstack([-gx * 20, -gy * 20, np.ones_like(depth)])
    normals /= np.linalg.norm(normals, axis=2, keepdims=True)
    base = np.asarray(picture(rng, w, h), dtype=np.float64)
    shade = 0.35 + 0.65 * np.clip(normals @ np.array([0.3, -0.5, 0.8]), 0, 1)
    colour = ids[:, :, None] * np.array([37, 91, 53]) % 255
    rgb = np.clip(0.5 * base + 0.5 * colour * shade[:, :, None], 0, 255).astype(np.uint8)
    return rgb, depth, normals.astype(np.float32), ids


def make_dense(root: Path, rng: np.random.Generator, n: int = 13) -> dict[str, int]:
    """`dense/{images,depth,normals,edges,segmentation}/scene_NNN.*`; the last image has no depth."""
    base = root / "dense"
    for sub in ("images", "depth", "normals", "edges", "segmentation"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        w, h = (128, 96) if i % 2 else (96, 128)
        rgb, depth, normals, ids = _scene(rng, w, h)
        stem = f"scene_{i:03d}"
        Image.fromarray(rgb).save(base / "images" / f"{stem}.png")
        if i < n - 1:
            if i % 2:
                np.save(base / "depth" / f"{stem}.npy", depth.astype(np.float32))
            else:
                Image.fromarray(np.round(depth * 1000).astype(np.uint16)).save(base / "depth" / f"{stem}.png")
        np.save(base / "normals" / f"{stem}.npy", normals)
        edges = (np.abs(np.diff(ids.astype(np.int16), axis=0, prepend=ids[:1])) +
                 np.abs(np.diff(ids.astype(np.int16), axis=1, prepend=ids[:, :1]))) > 0
        Image.fromarray((edges * 255).astype(np.uint8)).save(base / "edges" / f"{stem}.png")
        seg = Image.fromarray(ids, mode="L").convert("P")
        seg.putpalette([v for k in range(256) for v in (k, k, k)])
        seg.save(base / "segmentation" / f"{stem}.png")
    return {"dense_images": n, "dense_missing_maps": 1}


def _rain(rng: np.random.Generator, img: Image.Image) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    for _ in range(int(w * h / 150)):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        draw.line([(x, y), (x - 3, y + 10)], fill=(210, 210, 220), width=1)
    return out


def make_paired(root: Path, rng: np.random.Generator, n: int = 16) -> dict[str, int]:
    """`paired/rainy -> paired/clean` (+ one input without partner), `pairs.csv`, `pairs.jsonl`."""
    base = root / "paired"
    (base / "clean").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        w, h = int(rng.integers(96, 160)), int(rng.integers(96, 160))
        clean = picture(rng, w, h)
        clean.save(base / "clean" / f"{i:04d}.png")
        _jpeg(_rain(rng, clean), base / "rainy" / f"{i:04d}.jpg")
    _jpeg(picture(rng, 100, 100), base / "rainy" / "orphan.jpg")
    rows = [(f"rainy/{i:04d}.jpg", f"clean/{i:04d}.png") for i in range(8)]
    csv_lines = ["input,output"] + [f"{a},{b}" for a, b in rows] + ["rainy/0008.jpg,", "rainy/0009.jpg,clean/nope.png"]
    (base / "pairs.csv").write_text("\n".join(csv_lines) + "\n")
    jsonl = [json.dumps({"input": a, "output": b}) for a, b in rows] + ["{not json", json.dumps({"input": "x.jpg"})]
    (base / "pairs.jsonl").write_text("\n".join(jsonl) + "\n")
    return {"paired_pairs": n, "paired_unmatched": 1}
