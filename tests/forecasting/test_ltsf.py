"""The LTSF table harness and the new models through the command line, on a tiny CSV."""

import importlib.util
import json
from pathlib import Path

import pytest

from helpers import write_csv
from sparsecast.cli import main
from sparsecast.forecasting import evaluate_run
from sparsecast.forecasting.ltsf import cell_setup, parse_variant
from sparsecast.training import TrainConfig

PATCH = "d_model=8,n_heads=2,d_ff=16,e_layers=1,patch_len=8,patch_stride=4,epochs=2,batch_size=32"


def test_variant_overrides_split_into_data_model_and_training_settings():
    label, recipe, overrides = parse_variant("longpatch:attn=full,seq_len=48,lr=1e-3,revin=false")
    dcfg, settings, tcfg = cell_setup("ETTh1", recipe, overrides, 96, None, TrainConfig(), seed=2)
    assert (dcfg.seq_len, dcfg.pred_len, dcfg.features) == (48, 96, "M")
    assert settings["attn"] == "full" and settings["revin"] is False and settings["d_model"] == 16  # small family
    assert (tcfg.lr, tcfg.seed, tcfg.batch_size) == (1e-3, 2, 128)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        parse_variant("nope")


def test_ltsf_table_runs_resumes_and_reports(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", n=500, columns=("a", "OT"))
    out = tmp_path / "table"
    args = ["benchmark", "ltsf", "--data", str(csv), "--horizons", "8", "--seeds", "0,1", "--out", str(out),
            "--models", f"longpatch:seq_len=32,{PATCH},patchtst:seq_len=32,{PATCH},dlinear:seq_len=32,epochs=1,"
                        "repeat_last:seq_len=32"]
    assert main(args) == 0
    results = json.loads((out / "s_ltsf.json").read_text())
    assert len(results) == 8  # 1 horizon x 4 variants x 2 seeds
    cell = results[f"8|longpatch:seq_len=32,{PATCH}|0"]
    assert cell["test_windows"] == (100 + 32) - 32 - 8 + 1 and cell["settings"]["attn"] == "probsparse"
    assert cell["val_loss"] is not None and cell["seq_len"] == 32
    assert cell["machine"].startswith("CPU (flags ")  # where it ran: the seconds table names a GPU, never a CPU
    md = (out / "s_ltsf.md").read_text()
    assert "repeat_last:seq_len=32 (L=32)" in md and " ± " in md and ", on " not in md
    capsys.readouterr()
    assert main(args) == 0  # every cell done: nothing trains again
    assert "==" not in capsys.readouterr().out


def test_ltsf_table_continues_a_cell_killed_with_its_process(tmp_path):
    """A cell whose process was killed mid-training continues from its last checkpoint when the table runs again,
    and ends as an uninterrupted run of it does."""
    from sparsecast.forecasting.ltsf import ltsf_table
    csv = write_csv(tmp_path / "s.csv", n=500, columns=("a", "OT"))
    variants, train = ["dlinear:seq_len=32,epochs=3,patience=5"], TrainConfig(progress=False)
    run = lambda out, log: ltsf_table(str(csv), variants, [8], [0], out, None, train, log=log)  # noqa: E731

    def stop_in_epoch_two(line):
        if line.startswith("epoch 2:"):
            raise KeyboardInterrupt  # killed before epoch 2's checkpoint: the checkpoint holds epoch 1
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "killed", stop_in_epoch_two)
    lines = []
    run(tmp_path / "killed", lines.append)
    run(tmp_path / "whole", lambda line: None)
    assert any("continuing the interrupted run" in line for line in lines)
    assert any(line.startswith("resuming after epoch 1") for line in lines)
    killed, whole = (next(iter(json.loads((tmp_path / d / "s_ltsf.json").read_text()).values()))
                     for d in ("killed", "whole"))
    assert killed["resumed"] and not whole["resumed"]
    assert killed["test"] == whole["test"] and killed["epochs"] == whole["epochs"] == 3


def test_ltsf_table_skips_a_cell_another_process_is_training(tmp_path):
    """Two processes filling one table: a cell whose lock another holds is left to it (peers included: their cells
    take hours, and one ran twice before the lock)."""
    from sparsecast.forecasting.ltsf import _run_dir, ltsf_table
    from sparsecast.forecasting.run_dir import claim
    csv = write_csv(tmp_path / "s.csv", n=500, columns=("a", "OT"))
    out, variants = tmp_path / "table", ["repeat_last:seq_len=32"]
    run = lambda: ltsf_table(str(csv), variants, [8], [0, 1], out, None, TrainConfig(progress=False),  # noqa: E731
                             log=lambda line: None)
    with claim(_run_dir(out, "s", 8, variants[0], 0).with_suffix(".lock")) as mine:
        assert mine
        run()
        assert sorted(json.loads((out / "s_ltsf.json").read_text())) == ["8|repeat_last:seq_len=32|1"]
    run()
    assert len(json.loads((out / "s_ltsf.json").read_text())) == 2


def test_record_result_merges_an_entry_two_processes_add_models_to(tmp_path):
    """Two collections adding different models to the same series: with merge, the second write keeps the first's
    model (without it, the entry is replaced, as a table's cell is)."""
    from sparsecast.forecasting.run_dir import record_result
    path = tmp_path / "results.json"
    record_result(path, "s", {"rows": 10, "a": {"mse": 1.0}})
    merged = record_result(path, "s", {"rows": 10, "b": {"mse": 2.0}}, merge=True)
    assert merged["s"] == {"rows": 10, "a": {"mse": 1.0}, "b": {"mse": 2.0}} == json.loads(path.read_text())["s"]
    assert record_result(path, "s", {"c": {"mse": 3.0}})["s"] == {"c": {"mse": 3.0}}
    nested = record_result(path, "s", {"c": {"mae": 0.5}}, merge=lambda old, new: {"c": {**old["c"], **new["c"]}})
    assert nested["s"] == {"c": {"mse": 3.0, "mae": 0.5}}


@pytest.mark.parametrize("model", ["longpatch", "patchtst"])
def test_train_and_predict_with_the_patch_models(tmp_path, model):
    csv = write_csv(tmp_path / "s.csv", n=400)
    out = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--features", "M", "--model", model, "--seq-len", "32",
                 "--pred-len", "8", "--d-model", "8", "--n-heads", "2", "--d-ff", "16", "--e-layers", "1",
                 "--patch-len", "8", "--patch-stride", "4", "--epochs", "1", "--no-progress", "--out",
                 str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["series"]["revin"] is True and config["model"]["enc_in"] == 3
    from sparsecast.training.precision import resolve_precision
    width = config["model"]["d_model"]
    assert config["train"]["precision"] == "auto" and config["precision"] == resolve_precision("auto", width=width)[0]
    assert main(["evaluate", str(out)]) == 0
    assert main(["predict", str(out), "--input", str(csv), "--out", str(tmp_path / "f.csv")]) == 0


def test_informer_with_revin_and_channel_independence_from_the_cli(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=400)
    out = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--features", "M", "--revin", "--channel-independent",
                 "--seq-len", "24", "--label-len", "12", "--pred-len", "6", "--d-model", "16", "--n-heads", "2",
                 "--d-ff", "16", "--e-layers", "1", "--epochs", "1", "--no-progress", "--precision", "fp32",
                 "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["series"] == {"revin": True, "revin_affine": False, "channel_independent": True,
                                "deseason": True, "profile_len": 24}  # LongPatch on hourly data
    assert config["model"]["enc_in"] == 1 and config["model"]["c_out"] == 1
    first = json.loads((out / "metrics.json").read_text())["test"]["mse"]
    again = evaluate_run(out, precision="fp32")["test"]["mse"]
    assert again == pytest.approx(first, rel=1e-6)  # the saved wrapper loads back the same model


def test_patch_longer_than_lookback_stops_with_one_line(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", n=400)
    code = main(["train", "--data", str(csv), "--model", "patchtst", "--seq-len", "12", "--pred-len", "4",
                 "--patch-len", "16", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "patch_len (16) is longer than the lookback seq_len (12)" in err


def test_lookback_plus_horizon_longer_than_a_split_stops_with_one_line(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", n=400)
    code = main(["train", "--data", str(csv), "--model", "longpatch", "--seq-len", "336", "--pred-len", "96",
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "fewer than seq_len + pred_len" in err


def test_table_wide_training_flags_apply_and_a_variant_still_wins():
    _, recipe, overrides = parse_variant("longpatch:lr=1e-3")
    _, _, tcfg = cell_setup("ETTh1", recipe, overrides, 96, None, TrainConfig(), 0,
                            train_overrides={"epochs": 2, "lr": 0.5, "batch_size": 4})
    assert (tcfg.epochs, tcfg.batch_size, tcfg.lr) == (2, 4, 1e-3)


def test_table_wide_flags_that_change_a_cell_join_its_label():
    from sparsecast.forecasting.ltsf import with_table_flags
    flags = {"loss": "mae", "lr": 0.001, "max_minutes": 5.0, "quantiles": ()}
    label = with_table_flags("longpatch", flags, "ETTh1", [96, 192])
    assert label == "longpatch:loss=mae,lr=0.001"  # not the budget, not the levels
    assert parse_variant(label)[2] == {"loss": "mae", "lr": 0.001}
    assert with_table_flags("longpatch:lr=1e-3,seq_len=96", flags, "ETTh1", [96]) == \
        "longpatch:lr=1e-3,seq_len=96,loss=mae"  # the variant's own lr wins
    assert with_table_flags("dlinear", {"max_minutes": 5.0}, "ETTh1", [96]) == "dlinear"  # keys stay as they were
    # what the recipe uses anyway changes nothing: longpatch trains on MSE for 10 epochs; ETTm2's DLinear takes
    # lr 1e-3 at 96 and 192 only, so 1e-3 changes a table that holds 336
    assert with_table_flags("longpatch", {"loss": "mse", "epochs": 10}, "ETTh1", [96]) == "longpatch"
    assert with_table_flags("dlinear", {"lr": 1e-3}, "ETTm2", [96, 192]) == "dlinear"
    assert with_table_flags("dlinear", {"lr": 1e-3}, "ETTm2", [96, 336]) == "dlinear:lr=0.001"
    for untrained in ("nf_patchtst:seq_len=96", "seasonal_naive", "repeat_last"):  # they ignore the flags
        assert with_table_flags(untrained, flags, "ETTh1", [96]) == untrained


def test_the_validation_column_is_mse_whatever_loss_trained_a_cell():
    from sparsecast.forecasting.ltsf_pages import _val_mse
    assert _val_mse({"val_loss": 0.5, "train": {"loss": "mae"}, "val": {"mse": 0.7, "mae": 0.5}}) == 0.7
    assert _val_mse({"val_loss": 0.5, "train": {"loss": "mae"}}) is None  # an MAE, not comparable
    assert _val_mse({"val_loss": 0.6, "train": {"lr": 1e-4}}) == 0.6  # cells before the loss choice: MSE


def test_runs_saved_before_new_settings_resume_as_they_were_trained():
    from sparsecast.forecasting.experiment import saved_train_config, user_settings
    from sparsecast.models import InformerConfig
    old = {k: v for k, v in InformerConfig().to_dict().items() if k not in ("selection", "layer_seeds")}
    config = {"model_name": "informer", "model": old, "train": {"epochs": 1}}
    settings = user_settings(config)
    assert settings["selection"] == "prefix" and settings["layer_seeds"] is False
    assert saved_train_config(config).precision == "fp32"  # before the precision choice every run was fp32
    assert saved_train_config({**config, "precision": "bf16"}).resolved_precision()[0] == "bf16"


def test_seasonal_naive_column_scores_the_skill_module_figure(tmp_path):
    """The table's seasonal naive (a model in our loop) equals the skill module's on the same test windows."""
    from sparsecast.data import prepare_data
    from sparsecast.forecasting.skill import baseline_scores
    csv = write_csv(tmp_path / "s.csv", n=500, columns=("a", "OT"))
    out = tmp_path / "table"
    assert main(["benchmark", "ltsf", "--data", str(csv), "--horizons", "8", "--seeds", "0", "--out", str(out),
                 "--models", "seasonal_naive:seq_len=32"]) == 0
    cell = json.loads((out / "s_ltsf.json").read_text())["8|seasonal_naive:seq_len=32|0"]
    _, recipe, overrides = parse_variant("seasonal_naive:seq_len=32")
    dcfg, _, _ = cell_setup(str(csv), recipe, overrides, 8, None, TrainConfig(), seed=0)
    expected = baseline_scores(prepare_data(dcfg), "test", 24)["seasonal_naive"]
    assert cell["test"]["mse"] == pytest.approx(expected["mse"], rel=1e-6)
    assert cell["test"]["mae"] == pytest.approx(expected["mae"], rel=1e-6)


def test_every_cell_is_also_scored_on_the_same_spaced_windows_and_on_the_anchors_windows(tmp_path):
    """A cell scored on every test window records its figure on the SPACED_TEST evenly spaced ones too, and a
    cell scored on those alone (test_windows, as statsforecast's recipes are) gets the same figure there. The full
    cell also records the figure on the windows the published anchors score (their test loader drops its last
    partial batch of ANCHOR_TEST_BATCH: the first len // batch * batch); the spaced-only cell cannot."""
    import torch
    from sparsecast.data import prepare_data
    from sparsecast.data.windows import spaced_index
    from sparsecast.forecasting.scoring import ANCHOR_TEST_BATCH, SPACED_TEST
    from sparsecast.forecasting.skill import baseline_scores
    csv = write_csv(tmp_path / "s.csv", n=1500, columns=("a", "OT"))
    out = tmp_path / "table"
    assert main(["benchmark", "ltsf", "--data", str(csv), "--horizons", "8", "--seeds", "0", "--out", str(out),
                 "--models", f"seasonal_naive:seq_len=32,seasonal_naive:seq_len=32,test_windows={SPACED_TEST}"]) == 0
    results = json.loads((out / "s_ltsf.json").read_text())
    full = results["8|seasonal_naive:seq_len=32|0"]
    spaced = results[f"8|seasonal_naive:seq_len=32,test_windows={SPACED_TEST}|0"]
    _, recipe, overrides = parse_variant("seasonal_naive:seq_len=32")
    prepared = prepare_data(cell_setup(str(csv), recipe, overrides, 8, None, TrainConfig(), seed=0)[0])
    total = len(prepared.splits["test"])
    assert total > SPACED_TEST and full["test_windows"] == total and spaced["test_windows"] == SPACED_TEST
    expected = baseline_scores(prepared, "test", 24, spaced_index(total, SPACED_TEST))["seasonal_naive"]
    for cell in (full, spaced):
        assert cell["test_spaced"]["windows"] == SPACED_TEST
        assert cell["test_spaced"]["mse"] == pytest.approx(expected["mse"], rel=1e-6)
    assert spaced["test"]["mse"] == pytest.approx(expected["mse"], rel=1e-6) and spaced["spaced_only"]
    assert not full["spaced_only"] and full["test"]["mse"] != pytest.approx(expected["mse"], rel=1e-6)
    md = (out / "s_ltsf.md").read_text()
    assert "spaced windows only" in md and f"on {SPACED_TEST} evenly spaced test windows" in md
    assert torch.equal(spaced_index(5, SPACED_TEST), torch.arange(5))  # fewer windows than that: all of them
    kept = total // ANCHOR_TEST_BATCH * ANCHOR_TEST_BATCH
    assert 0 < kept < total and spaced["test_drop_last"] is None  # the frame leaves a partial batch to drop
    expected = baseline_scores(prepared, "test", 24, torch.arange(kept))["seasonal_naive"]
    assert full["test_drop_last"]["windows"] == kept and full["test_drop_last"]["batch"] == ANCHOR_TEST_BATCH
    assert full["test_drop_last"]["mse"] == pytest.approx(expected["mse"], rel=1e-6)
    assert full["test_drop_last"]["mae"] == pytest.approx(expected["mae"], rel=1e-6)
    assert full["test_drop_last"]["mse"] != pytest.approx(full["test"]["mse"], rel=1e-6)
    assert f"({kept} windows)" in md


@pytest.mark.skipif(importlib.util.find_spec("statsforecast") is None, reason="needs the 'stats' extra")
def test_statsforecast_recipe_scores_the_spaced_windows_only(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=600, columns=("a", "OT"))
    out = tmp_path / "table"
    assert main(["benchmark", "ltsf", "--data", str(csv), "--horizons", "8", "--seeds", "0", "--out", str(out),
                 "--models", "auto_theta:seq_len=48,test_windows=5"]) == 0
    cell = json.loads((out / "s_ltsf.json").read_text())["8|auto_theta:seq_len=48,test_windows=5|0"]
    assert cell["test_windows"] == 5 and cell["spaced_only"] and cell["test_spaced"] is None  # 5 < SPACED_TEST
    assert cell["test"]["mse"] > 0


def test_published_anchors_cover_every_table_at_its_own_lookback():
    """Each LTSF dataset has the lookback-336 anchors (DLinear, PatchTST/42) beside the lookback-96 ones."""
    from sparsecast.reference import ltsf_published
    rows = ltsf_published()
    for data in ("ETTh1", "ETTh2", "ETTm1", "ETTm2", "weather"):
        for model, seq_len in (("DLinear", 336), ("PatchTST/42", 336), ("PatchTST/64", 512), ("PatchTST", 96)):
            key = (data, model, seq_len)
            hits = sorted(r["pred_len"] for r in rows if (r["data"], r["model"], r["seq_len"]) == key)
            assert hits == [96, 192, 336, 720], (data, model)
    assert all(0 < r["mse"] < 2 and (r["mae"] is None or 0 < r["mae"] < 2) for r in rows)


def test_dlinear_takes_its_scripts_settings_per_dataset_and_horizon():
    _, recipe, overrides = parse_variant("dlinear")
    train = {(d, h): cell_setup(d, recipe, overrides, h, None, TrainConfig(), seed=0)[2]
             for d in ("ETTh1", "ETTh2", "ETTm2") for h in (96, 720)}
    assert (train["ETTh1", 96].batch_size, train["ETTh1", 96].lr) == (8, 1e-4)
    assert (train["ETTh2", 720].batch_size, train["ETTh2", 720].lr) == (32, 0.05)
    assert (train["ETTm2", 96].lr, train["ETTm2", 720].lr) == (1e-3, 1e-2)
    exchange = [cell_setup("exchange_rate", recipe, overrides, h, None, TrainConfig(), seed=0)[2] for h in (96, 336)]
    assert [(t.batch_size, t.lr) for t in exchange] == [(8, 5e-4), (32, 5e-4)]
    ili = cell_setup("national_illness", recipe, overrides, 24, None, TrainConfig(), seed=0)[2]
    assert (ili.batch_size, ili.lr) == (32, 0.01)
    assert cell_setup("ETTm2", recipe, overrides, 48, None, TrainConfig(), seed=0)[2].lr == 1e-3  # unscripted horizon
    _, recipe, overrides = parse_variant("dlinear:lr=0.5")
    assert cell_setup("ETTm2", recipe, overrides, 720, None, TrainConfig(), seed=0)[2].lr == 0.5  # variant wins


def test_patchtst_takes_its_scripts_budget_and_schedule_per_dataset():
    """100 epochs with the best validation kept; ETTh: type3, patience 100 (run_longExp.py's defaults); weather:
    type3, patience 20; ETTm: the per-step one-cycle over 40% of the run, patience 20; PatchTST's own layers. The
    earlier budget stays one label away (PATCHTST_SHORT), the same on every dataset."""
    from sparsecast.forecasting.ltsf import PATCHTST_SHORT

    def train(spec, data):
        _, recipe, overrides = parse_variant(spec)
        t = cell_setup(data, recipe, overrides, 96, None, TrainConfig(), seed=0)[2]
        return t.epochs, t.patience, t.lradj, t.pct_start
    assert train("patchtst", "ETTh1") == train("patchtst", "ETTh2") == (100, 100, "patchtst_type3", 0.3)
    assert train("patchtst", "weather") == (100, 20, "patchtst_type3", 0.3)
    assert train("patchtst", "ETTm1") == train("patchtst", "ETTm2") == (100, 20, "onecycle", 0.4)
    for data in ("ETTh1", "ETTm1", "weather"):
        assert train(PATCHTST_SHORT, data)[:3] == (10, 3, "type3")
    # PatchTST's own encoder layers; the earlier budget had ours
    layers = {spec: cell_setup("ETTh1", *parse_variant(spec)[1:], 96, None, TrainConfig(), seed=0)[1]["tst_layers"]
              for spec in ("patchtst", PATCHTST_SHORT)}
    assert layers == {"patchtst": True, PATCHTST_SHORT: False}
    # pct_start shapes the one-cycle only: it neither labels nor keeps from resuming a cell on another schedule
    from sparsecast.forecasting.ltsf import with_table_flags
    assert with_table_flags("patchtst", {"pct_start": 0.3}, "ETTh1", [96]) == "patchtst"
    assert with_table_flags("patchtst", {"pct_start": 0.3}, "ETTm1", [96]) == "patchtst:pct_start=0.3"


def test_readme_ltsf_table_is_the_one_built_from_the_recorded_cells():
    """README's LTSF table is regenerated from benchmarks/results/ltsf/*_ltsf.json (`sparsecast benchmark ltsf
    --summary --readme README.md`), never typed: the two agree line for line."""
    from sparsecast.forecasting.ltsf_summary import BEGIN, END, summary_lines
    root = Path(__file__).resolve().parents[2]
    text = (root / "README.md").read_text()
    block = text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip().splitlines()
    assert block == summary_lines(root / "benchmarks" / "results" / "ltsf")


def test_summary_bolds_the_lowest_mse_of_a_row_and_shows_the_anchors_windows(tmp_path):
    """One row per LongPatch horizon; mean ± std over seeds; the lowest MSE of the row, ours or published, in bold;
    LongPatch's figure on the windows the anchors keep in its own column."""
    from sparsecast.forecasting.ltsf_summary import summary_lines

    def cell(variant, seed, mse, kept=None):
        return {"horizon": 96, "variant": variant, "seed": seed, "test": {"mse": mse, "mae": mse / 2},
                "test_drop_last": kept and {"mse": kept, "mae": kept / 2, "windows": 128, "batch": 128}}
    results = {f"96|{v}|{s}": cell(v, s, m, k) for v, s, m, k in
               [("longpatch", 0, 0.35, 0.35), ("longpatch", 1, 0.37, 0.37), ("dlinear", 0, 0.40, None)]}
    (tmp_path / "ETTh1_ltsf.json").write_text(json.dumps(results))
    lines = summary_lines(tmp_path)
    assert len(lines) == 3 and lines[2].startswith("| ETTh1 96 |")
    row = [c.strip() for c in lines[2].strip("|").split("|")]
    assert row[1] == "**0.360 ± 0.014 / 0.180**" and row[2] == "0.400 / 0.200"
    assert row[8] == "0.370 / 0.400"  # PatchTST/64 L=512, ETTh1 96 in ltsf_published.csv
    assert row[-2:] == ["0.360 ± 0.014 / 0.180", "2"]


def test_a_column_without_its_cells_shows_the_cells_it_stands_in_for_marked(tmp_path):
    """The PatchTST-style column shows the scripts' budget where it ran, else the 10-epoch cells, marked."""
    from sparsecast.forecasting.ltsf import PATCHTST_SHORT
    from sparsecast.forecasting.ltsf_summary import summary_lines

    def cell(h, variant, mse):
        return {"horizon": h, "variant": variant, "seed": 0, "test": {"mse": mse, "mae": mse}}
    cells = [cell(96, "longpatch", 0.35), cell(192, "longpatch", 0.4), cell(96, "patchtst", 0.38),
             cell(96, PATCHTST_SHORT, 0.41), cell(192, PATCHTST_SHORT, 0.44)]
    (tmp_path / "ETTh1_ltsf.json").write_text(json.dumps({f"{c['horizon']}|{c['variant']}|0": c for c in cells}))
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in summary_lines(tmp_path)[2:]]
    assert [row[3] for row in rows] == ["0.380 / 0.380", "0.440 / 0.440 (10 epochs)"]


def test_a_cell_killed_before_the_loss_setting_existed_still_resumes(tmp_path):
    """A checkpointed run whose config.json predates TrainConfig.loss is the same training as an MSE run now."""
    import json
    from sparsecast.data import DataConfig
    from sparsecast.forecasting.experiment import interrupted
    from sparsecast.forecasting.run_dir import CHECKPOINT, CONFIG
    data = DataConfig(data="ETTh1", features="M", seq_len=96, label_len=48, pred_len=96)
    train = TrainConfig(epochs=3)
    old = {k: v for k, v in train.to_dict().items() if k != "loss"}
    (tmp_path / CONFIG).write_text(json.dumps({"data": data.to_dict(), "train": old}))
    (tmp_path / CHECKPOINT).write_bytes(b"x")
    assert interrupted(tmp_path, data, train)
    assert not interrupted(tmp_path, data, TrainConfig(epochs=3, loss="mae"))
    # nor pct_start (0.3 then), which changes nothing but a per-step schedule
    assert interrupted(tmp_path, data, TrainConfig(epochs=3, pct_start=0.4))
    old = {k: v for k, v in TrainConfig(epochs=3, lradj="onecycle").to_dict().items() if k != "pct_start"}
    (tmp_path / CONFIG).write_text(json.dumps({"data": data.to_dict(), "train": old}))
    assert not interrupted(tmp_path, data, TrainConfig(epochs=3, lradj="onecycle", pct_start=0.4))


def test_the_seconds_table_names_the_gpu_a_cell_ran_on(tmp_path):
    from sparsecast.forecasting.ltsf_pages import write_markdown
    cell = {"horizon": 96, "seed": 0, "seq_len": 96, "test": {"mse": 0.5, "mae": 0.5}, "val_loss": 0.9,
            "seconds": 34.0, "epochs": 4, "machine": "NVIDIA H200"}
    results = {"96|informer|0": {**cell, "variant": "informer"},
               "96|dlinear|0": {**cell, "variant": "dlinear", "machine": "CPU (flags avx2), 1 threads"}}
    write_markdown(tmp_path / "t.md", "t", results)
    rows = [line for line in (tmp_path / "t.md").read_text().splitlines() if line.startswith("| 96 | 0.9000")]
    assert rows == ["| 96 | 0.9000; 34 s (n=1, epochs 4, on NVIDIA H200) | 0.9000; 34 s (n=1, epochs 4) |"]
