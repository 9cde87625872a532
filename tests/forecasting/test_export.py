"""ONNX export of trained forecasters matches PyTorch in onnxruntime."""

import json
import warnings

import pytest

from helpers import write_csv
from sparsecast.cli import main

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.mark.parametrize("model,attn,embed", [("informer", "probsparse", "timeF"), ("informer", "fixed", "learned"),
                                              ("longpatch", "probsparse", "timeF"),
                                              pytest.param("informer", "full", "fixed", marks=pytest.mark.slow),
                                              pytest.param("informer", "strided", "timeF", marks=pytest.mark.slow)])
def test_export_matches_pytorch(tmp_path, capsys, model, attn, embed):
    csv = write_csv(tmp_path / "s.csv", n=300)
    run = tmp_path / "run"
    patches = ["--patch-len", "8", "--patch-stride", "4"] if model == "longpatch" else []
    assert main(["train", "--model", model, "--data", str(csv), "--features", "M", "--seq-len", "24",
                 "--label-len", "12",
                 "--pred-len", "6", "--d-model", "16", "--n-heads", "2", "--d-ff", "32", "--epochs", "1",
                 "--attn", attn, "--embed", embed, *patches, "--no-progress", "--out", str(run)]) == 0
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["export", str(run), "--onnx", str(tmp_path / "m.onnx")]) == 0
    noise = ("register_buffer", "LeafSpec", "axis name")  # the exporter's notes, nothing to act on
    assert not [str(w.message) for w in said if any(n in str(w.message) for n in noise)]
    out = capsys.readouterr().out
    assert "matches PyTorch within" in out and (tmp_path / "m.onnx").stat().st_size > 10_000
    assert json.loads((run / "config.json").read_text())["model"]["attn"] == attn
