"""The peer adapter hands a peer library exactly our windows and reads its forecasts back in our order: checked
with a stand-in for neuralforecast (repeat-last computed from the long frame the adapter builds), so no peer
library is needed."""

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import write_csv
from sparsecast.data import DataConfig, prepare_data
from sparsecast.forecasting.peers import (locate_test_windows, long_frame, peer_forecasts, validation_rows,
                                          window_runs, windows_from_cv)


@pytest.fixture
def prepared(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=300, columns=("a", "b", "OT"))
    return prepare_data(DataConfig(data=str(csv), features="M", seq_len=24, label_len=12, pred_len=6))


def _stand_in_cross_validation(df: pd.DataFrame, n_windows: int, h: int) -> pd.DataFrame:
    """What neuralforecast's cross_validation returns for a repeat-last model: the last n_windows cutoffs."""
    rows = []
    for uid, g in df.groupby("unique_id", sort=False):
        y, ds = g["y"].to_numpy(), g["ds"].to_numpy()
        for k in range(n_windows):
            cut = len(y) - h - (n_windows - 1 - k) - 1  # the last row before the window's origin
            rows.append(pd.DataFrame({"unique_id": uid, "ds": ds[cut + 1:cut + 1 + h], "cutoff": ds[cut],
                                      "y": y[cut + 1:cut + 1 + h], "Peer": y[cut]}))
    return pd.concat(rows, ignore_index=True).sample(frac=1, random_state=0)  # any row order


def test_the_peer_sees_exactly_our_test_windows(prepared):
    first, n, seq_len, pred_len = locate_test_windows(prepared)
    df = long_frame(prepared)
    assert set(df["unique_id"]) == {"a", "b", "OT"}
    assert df["ds"].max() == prepared.dates[prepared.borders["test"][1] - 1]
    cv = _stand_in_cross_validation(df, n, pred_len)
    pred, truth = windows_from_cv(cv, prepared, "Peer")
    ours = prepared.splits["test"].batch(torch.arange(n))
    np.testing.assert_allclose(truth, ours.y.numpy(), atol=1e-6)  # the same truth, window by window
    np.testing.assert_allclose(pred, np.repeat(ours.x[:, -1:, :].numpy(), pred_len, axis=1), atol=1e-6)
    assert first == prepared.borders["test"][0] + seq_len


def test_the_peer_validates_on_our_validation_rows(prepared):
    train_end = prepared.borders["train"][1]
    first, *_ = locate_test_windows(prepared)
    assert validation_rows(prepared) == first - train_end  # the rows our validation windows forecast


def test_windows_too_many_for_one_call_are_forecast_in_runs(prepared):
    """Past max_rows forecast rows the windows go to the peer in runs: the first call trains, the later ones reuse
    the trained model; each run's frame ends with its last window; stitched, they are every window in order, the
    same as one call."""
    first, n, _, pred_len = locate_test_windows(prepared)
    calls = []

    def stand_in(df, n_windows, fitted):
        calls.append((df["ds"].max(), n_windows, fitted))
        return _stand_in_cross_validation(df, n_windows, pred_len)

    rows = pred_len * len(prepared.columns)
    whole = peer_forecasts(prepared, stand_in, "Peer")
    assert calls == [(prepared.dates[first + n - 2 + pred_len], n, False)]  # small enough for one call
    calls.clear()
    runs = peer_forecasts(prepared, stand_in, "Peer", max_rows=7 * rows)  # 7 windows a call
    assert [c[1] for c in calls] == [7] * (n // 7) + ([n % 7] if n % 7 else [])
    assert [c[2] for c in calls] == [False] + [True] * (len(calls) - 1)
    assert [c[0] for c in calls] == [prepared.dates[first + min(n, b) - 2 + pred_len] for b in range(7, n + 7, 7)]
    for a, b in zip(whole, runs):
        np.testing.assert_array_equal(a, b)
    assert window_runs(10, 5, max_rows=50) == [(0, 10)] and window_runs(10, 5, max_rows=49) == [(0, 9), (9, 10)]
    assert window_runs(3, 100, max_rows=10) == [(0, 1), (1, 2), (2, 3)]  # one window a call at least


def test_other_origins_are_refused(prepared):
    _, n, _, pred_len = locate_test_windows(prepared)
    cv = _stand_in_cross_validation(long_frame(prepared), n - 1, pred_len)
    with pytest.raises(ValueError, match="not our"):
        windows_from_cv(cv, prepared, "Peer")


def test_a_multivariate_peer_is_told_the_number_of_series(prepared):
    from sparsecast.forecasting.peers import series_setting

    class Joint:  # as neuralforecast marks TSMixer and iTransformer
        MULTIVARIATE = True

    class PerSeries:
        MULTIVARIATE = False

    n_series = long_frame(prepared)["unique_id"].nunique()
    assert series_setting(Joint, prepared) == {"n_series": 3} == {"n_series": n_series}
    assert series_setting(PerSeries, prepared) == {} == series_setting(object, prepared)


def test_a_stopped_peer_continues_from_its_checkpoint(prepared, tmp_path, monkeypatch):
    """A peer cell killed in training leaves Lightning's checkpoint in its run folder (never on a step a validation
    follows); run again with the same setting, it trains only the steps after it, scores every window and clears
    the folder; with another setting it starts afresh (neuralforecast needed: the 'peers' extra)."""
    pytest.importorskip("neuralforecast")
    from sparsecast.forecasting import peers
    steps = {"max_steps": 12, "val_check_steps": 4}
    run_dir, saves, add = tmp_path / "cell", [], peers._add_seconds

    def stop_at_step_seven(folder, since):  # a call per checkpoint (minutes 0) and one when training ends
        saves.append(1)
        now = add(folder, since)
        if len(saves) == 6:  # steps 1, 2, 3, 5, 6, 7: none where a validation follows (4, 8, 12)
            raise RuntimeError("killed")
        return now

    monkeypatch.setattr(peers, "_add_seconds", stop_at_step_seven)
    with pytest.raises(RuntimeError, match="killed"):
        peers.run_peer("DLinear", prepared, 0, 1, run_dir, checkpoint_minutes=0, train_steps=steps)
    assert (run_dir / peers.LAST).is_file() and not (run_dir / peers.TRAINED).is_file() and peers.resumed(run_dir)
    assert torch.load(run_dir / peers.LAST, weights_only=True)["global_step"] == 7  # tensors and plain values
    saves.clear()
    monkeypatch.setattr(peers, "_add_seconds", lambda folder, since: saves.append(1) or add(folder, since))
    said = []
    cell = peers.run_peer("DLinear", prepared, 0, 1, run_dir, checkpoint_minutes=0, train_steps=steps,
                          log=said.append)
    assert "continuing the stopped peer" in said[0]
    assert len(saves) == 3 + 1  # steps 9, 10, 11 (not 8 and 12, which validate) and the end of training
    assert cell["resumed"] and cell["test_windows"] == locate_test_windows(prepared)[1]
    assert np.isfinite(cell["test"]["mse"]) and cell["seconds"] > 0
    assert not run_dir.exists()  # the training state goes once the cell is scored
    monkeypatch.setattr(peers, "_add_seconds", stop_at_step_seven)
    saves.clear()
    with pytest.raises(RuntimeError, match="killed"):
        peers.run_peer("DLinear", prepared, 0, 1, run_dir, checkpoint_minutes=0, train_steps=steps)
    said.clear()
    cell = peers.run_peer("DLinear", prepared, 1, 1, run_dir, checkpoint_minutes=0, train_steps=steps,
                          log=said.append)  # another seed: another setting
    assert "saved for another setting; starting afresh" in said[0] and not cell["resumed"]

    def stop_after_training(folder, since):  # the tenth call is the end of training: 9 checkpoints before it
        saves.append(1)
        now = add(folder, since)
        if len(saves) == 10:
            raise RuntimeError("killed")
        return now

    saves.clear()
    monkeypatch.setattr(peers, "_add_seconds", stop_after_training)
    with pytest.raises(RuntimeError, match="killed"):  # killed after training, before forecasting
        peers.run_peer("DLinear", prepared, 2, 1, run_dir, checkpoint_minutes=0, train_steps=steps)
    assert (run_dir / peers.TRAINED).is_file()
    saves.clear()
    cell = peers.run_peer("DLinear", prepared, 2, 1, run_dir, checkpoint_minutes=0, train_steps=steps)
    assert cell["resumed"] and saves == []  # the trained weights loaded: no step trained again
