"""`uvd tokenizer check`: a checkpoint folder, the figures per precision, and usage errors that
exit 2. (The agreement figures themselves are bench/precision.py's, not asserted here.)"""

import json

from typer.testing import CliRunner

from uvd_pipeline.cli import app
from uvd_pipeline.tokenizer import VQGAN


def uvd(*args):
    return CliRunner().invoke(app, list(args))


def test_check_a_checkpoint_prints_figures_per_precision(tmp_path):
    ckpt = tmp_path / "vqgan"
    VQGAN.random("tiny", seed=3).save_pretrained(ckpt)
    res = uvd("tokenizer", "check", str(ckpt), "--dtype", "float16", "--images", "2", "--device", "cpu", "--json", "--batch-size", "2")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["checkpoint"] == str(ckpt) and report["photographs"] == "scikit-image bundled photographs"
    assert report["names"] == ["astronaut", "chelsea"]
    reference, half = report["results"]
    assert (reference["dtype"], half["dtype"]) == ("float32", "float16")
    assert reference["agreement"] == 1.0 and reference["images_identical"] == 2
    assert 0.0 <= half["agreement"] <= 1.0 and 0 <= half["images_identical"] <= 2
    for r in (reference, half):
        assert 1 <= r["codes_used"] <= 2 * 256 and r["codebook_size"] == 8192
        assert 0.0 < r["psnr_db"] < 100.0 and r["seconds_per_image"] > 0
    table = uvd("tokenizer", "check", "--preset", "tiny", "--images", "1")
    assert table.exit_code == 0 and "PSNR" in table.stdout and "bfloat16" in table.stdout


def test_check_usage_errors_exit_2(tmp_path):
    missing = uvd("tokenizer", "check", str(tmp_path / "nowhere"), "--images", "1")
    assert missing.exit_code == 2 and "cannot load the tokenizer" in " ".join(missing.output.split())
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    (bad / "pytorch_model.bin").write_bytes(b"not a pickle")
    garbled = uvd("tokenizer", "check", str(bad), "--images", "1")
    assert garbled.exit_code == 2 and "refused to load" in " ".join(garbled.output.split())
    neither = uvd("tokenizer", "check", "--images", "1")
    assert neither.exit_code == 2 and "--preset" in neither.output
    assert uvd("tokenizer", "check", "--preset", "tiny", "--dtype", "int8").exit_code == 2
    assert uvd("tokenizer", "check", "--preset", "tiny", "--tf32").exit_code == 2  # TF32 goes with float32
