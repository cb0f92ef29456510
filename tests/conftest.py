"""Shared fixtures: the sample world in real formats and small recipes over it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from uvd_pipeline.recipe import Recipe, parse_recipe
from uvd_pipeline.samples import make_samples


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("samples")
    make_samples(root, seed=0, parts=["images", "webdataset"])
    return root


def single_image_recipe(samples: Path, unit_size: int = 16, **extra) -> dict:
    data = {
        "name": "test",
        "seed": 0,
        "tokenizer": {"preset": "tiny", "batch_size": 8},
        "sources": [
            {
                "name": "web_images",
                "plugin": "image_folder",
                "params": {"path": str(samples / "images"), "unit_size": unit_size},
                "category": "unlabelled_images",
            },
            {
                "name": "laion",
                "plugin": "webdataset",
                "params": {"path": str(samples / "webdataset")},
                "category": "unlabelled_images",
            },
        ],
    }
    data.update(extra)
    return data


@pytest.fixture
def recipe(samples) -> Recipe:
    return parse_recipe(single_image_recipe(samples))


@pytest.fixture
def recipe_file(samples, tmp_path) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(single_image_recipe(samples)))
    return path
