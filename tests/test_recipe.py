from pathlib import Path

import pytest
import yaml

from uvd_pipeline.errors import RecipeError
from uvd_pipeline.recipe import load_recipe, parse_recipe

from .conftest import single_image_recipe


def write(tmp_path: Path, data) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return p


def test_valid_recipe_loads_with_defaults(samples, tmp_path):
    r = load_recipe(write(tmp_path, single_image_recipe(samples)))
    assert [s.name for s in r.sources] == ["web_images", "laion"]
    assert r.sources[0].sequencer.plugin == "single"
    assert r.tokenizer.preset == "tiny" and r.tokenizer.checkpoint is None
    assert r.preprocess.max_image_pixels == 89_478_485


def test_error_names_file_field_and_expected_values(samples, tmp_path):
    data = single_image_recipe(samples)
    data["sources"][0]["category"] = "pictures"
    path = write(tmp_path, data)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "sources[0].category" in msg
    assert "unlabelled_images" in msg and "'pictures'" in msg


def test_unknown_field_is_refused(samples):
    data = single_image_recipe(samples)
    data["tokeniser"] = {}
    with pytest.raises(RecipeError, match="tokeniser"):
        parse_recipe(data, "x.yaml")


def test_unknown_plugin_lists_known_ones(samples):
    data = single_image_recipe(samples)
    data["sources"][1]["plugin"] = "webdatset"
    with pytest.raises(RecipeError) as err:
        parse_recipe(data, "x.yaml")
    msg = str(err.value)
    assert "sources[1].plugin" in msg and "webdatset" in msg and "image_folder" in msg and "webdataset" in msg


def test_plugin_params_are_validated_before_any_work(samples):
    data = single_image_recipe(samples)
    data["sources"][0]["params"]["unit_size"] = 0
    with pytest.raises(RecipeError, match=r"sources\[0\]\.params\.unit_size"):
        parse_recipe(data, "x.yaml")


def test_duplicate_source_names_refused(samples):
    data = single_image_recipe(samples)
    data["sources"][1]["name"] = "web_images"
    with pytest.raises(RecipeError, match="used twice"):
        parse_recipe(data, "x.yaml")


def test_yaml_is_safe_loaded(tmp_path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(RecipeError, match="nope.yaml: recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_fingerprint_ignores_output_but_not_seed(samples):
    a = parse_recipe(single_image_recipe(samples))
    b = parse_recipe(single_image_recipe(samples, output="/elsewhere"))
    c = parse_recipe(single_image_recipe(samples, seed=1))
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_duplicate_yaml_keys_are_refused_naming_the_key_and_line(tmp_path):
    """Plain safe_load keeps the last of two keys; the recipe loader refuses both, at any depth."""
    text = "name: a\nseed: 0\nsources:\n  - name: s\n    plugin: image_folder\n    params: {path: x}\n" \
           "    params: {path: y}\n    category: unlabelled_images\n"
    with pytest.raises(RecipeError, match=r"(?s)duplicate key 'params'.*line 7"):
        load_recipe(write(tmp_path, text))
    with pytest.raises(RecipeError, match=r"duplicate key 'seed'"):
        load_recipe(write(tmp_path, "name: a\nseed: 0\nseed: 1\nsources: []\n"))


def test_yaml_merge_keys_still_load():
    """`<<: *anchor` then an override of a merged key is not a duplicate."""
    from uvd_pipeline.recipe import safe_load_unique

    merged = "m: &m {a: 1, b: 2}\nn:\n  <<: *m\n  b: 3\n"
    assert safe_load_unique(merged) == {"m": {"a": 1, "b": 2}, "n": {"a": 1, "b": 3}}


@pytest.mark.parametrize("patch, field", [
    ({"preprocess": {"max_image_pixels": -1}}, "preprocess.max_image_pixels"),
    ({"preprocess": {"max_image_pixels": 0}}, "preprocess.max_image_pixels"),
    ({"weight": float("inf")}, "sources[0].weight"),
    ({"weight": float("nan")}, "sources[0].weight"),
    ({"targets": {"shares": {"unlabelled_images": 1.0}, "tolerance": float("inf")}}, "targets.tolerance"),
])
def test_non_sensical_numbers_are_refused(samples, patch, field):
    data = single_image_recipe(samples)
    if "weight" in patch:
        data["sources"][0].update(patch)
    else:
        data.update(patch)
    with pytest.raises(RecipeError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_recipe(data, "x.yaml")
