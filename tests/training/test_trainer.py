"""The training loop: early stopping restores the best weights, schedules, repeatable seeds."""

import numpy as np
import pytest
import torch
from torch import nn

from sparsecast.data import ForecastBatch
from sparsecast.training import SCHEDULES, TrainConfig, evaluate_loss, fit, forecast_metrics, predict


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x, x_mark, future_mark, origin=None):
        return x[:, -2:] * self.w


def _batches(target_scale):
    x = torch.randn(16, 4, 1)
    return [ForecastBatch(x=x, x_mark=x, future_mark=x[:, :2], y=x[:, -2:] * target_scale)]


def test_type1_halves_every_epoch_after_the_first():
    assert [SCHEDULES["type1"](e) for e in range(4)] == [1.0, 0.5, 0.25, 0.125]


@pytest.mark.parametrize("pct_start", [0.3, 0.4])
def test_onecycle_is_torch_s_one_cycle_at_every_step(pct_start, monkeypatch):
    """PatchTST's "TST" schedule: torch's OneCycleLR (its defaults) on Adam, rate and beta1, step by step; and fit
    sets both at every step of the run, not once an epoch."""
    from sparsecast.training.schedules import onecycle
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1e-3)
    total = 37
    reference = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=total, pct_start=pct_start)
    for step in range(total):
        factor, beta1 = onecycle(step, total, pct_start)
        assert factor * 1e-3 == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        assert beta1 == pytest.approx(opt.param_groups[0]["betas"][0], abs=1e-12)
        opt.step()
        if step < total - 1:
            reference.step()

    seen = []

    class Watch(Scale):
        def forward(self, x, x_mark, future_mark, origin=None):
            if self.training:
                group = self.optimizer.param_groups[0]
                seen.append((group["lr"], group["betas"][0]))
            return super().forward(x, x_mark, future_mark, origin)

    model = Watch()
    real_adam = torch.optim.Adam

    def adam(params, **kw):  # the optimizer fit builds, seen from the model
        model.optimizer = real_adam(params, **kw)
        return model.optimizer
    monkeypatch.setattr(torch.optim, "Adam", adam)
    hist = fit(model, _batches(1.0) * 4, _batches(1.0), TrainConfig(epochs=3, lr=0.1, patience=5, lradj="onecycle",
                                                                    pct_start=pct_start, progress=False),
               log=lambda line: None)
    expected = [onecycle(s, 12, pct_start) for s in range(12)]
    assert [lr for lr, _ in seen] == pytest.approx([0.1 * f for f, _ in expected], rel=1e-12)
    assert [b for _, b in seen] == pytest.approx([b for _, b in expected], rel=1e-12)
    assert hist.lr == pytest.approx([lr for lr, _ in seen[::4]])  # each epoch's first rate


def test_patchtst_type3_is_type3_as_patchtst_s_code_runs_it():
    """Its OneCycleLR, built but never stepped, leaves epoch 1 at lr / 25 and beta1 at 0.95; type3 then sets each
    later epoch's rate one epoch behind ours."""
    from sparsecast.training.schedules import patchtst_type3
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1e-4)
    torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-4, steps_per_epoch=5, epochs=10)  # as exp_main.py builds it
    official = [(opt.param_groups[0]["lr"], opt.param_groups[0]["betas"][0])]
    for epoch in range(1, 7):  # utils/tools.py adjust_learning_rate(epoch + 1) after 0-based epoch ``epoch - 1``
        official.append((1e-4 if epoch < 3 else 1e-4 * 0.9 ** (epoch - 3), 0.95))
    ours = [patchtst_type3(e) for e in range(7)]
    assert [1e-4 * f for f, _ in ours] == pytest.approx([lr for lr, _ in official], rel=1e-12)
    assert [b for _, b in ours] == pytest.approx([b for _, b in official])
    assert [SCHEDULES["type3"](e) for e in range(1, 7)] == pytest.approx([f for f, _ in ours[2:]] + [0.9 ** 4])


def test_onecycle_with_a_rise_shorter_than_a_step_starts_at_the_top():
    from sparsecast.training.schedules import onecycle
    assert onecycle(0, 10, 0.1) == (1.0, 0.85)  # torch's OneCycleLR divides by zero here


def test_early_stopping_restores_the_best_weights():
    model = Scale()
    val = _batches(0.5)
    # the validation target is w = 0.5, training pulls w towards 3: val loss is best early, then rises
    lines = []
    hist = fit(model, _batches(3.0), val, TrainConfig(epochs=30, lr=0.1, patience=2, lradj="constant",
                                                      progress=False), log=lines.append)
    assert hist.stopped_early and len(hist.val_loss) < 30
    assert lines[-1] == (f"stopped early (validation did not improve for 2 epochs); kept the weights of epoch "
                         f"{hist.best_epoch + 1}: val {min(hist.val_loss):.4f}")
    best = min(hist.val_loss)
    assert hist.val_loss[hist.best_epoch] == best
    assert abs(evaluate_loss(model, val) - best) < 1e-9  # the restored weights are the best epoch's
    assert model.w.item() < 1.5


def test_without_validation_every_epoch_runs_and_the_last_weights_stay():
    """val None (training again for a chosen number of epochs): no early stopping, and the last epoch's weights are the
    model's, the same as a run whose validation never stopped it and whose last epoch was its best."""
    torch.manual_seed(0)
    train = _batches(3.0)
    lines = []
    hist = fit(Scale(), train, None, TrainConfig(epochs=7, lr=0.1, lradj="type1", progress=False), log=lines.append)
    assert len(hist.train_loss) == 7 and hist.val_loss == [] and hist.lr == [0.1 / 2 ** k for k in range(7)]
    assert not hist.stopped_early and lines[-1].startswith("epoch 7: train ") and "val" not in lines[-1]
    # the same steps with validation on the training windows themselves: each epoch improves, so the last is kept
    model, reference = Scale(), Scale()
    fit(model, train, None, TrainConfig(epochs=7, lr=0.1, progress=False), log=lambda _: None)
    checked = fit(reference, train, train, TrainConfig(epochs=7, lr=0.1, patience=7, progress=False),
                  log=lambda _: None)
    assert checked.best_epoch == 6
    assert model.w.item() == reference.w.item() and 0 < model.w.item() < 3


def test_fit_hands_back_the_kept_weights_validation_forecasts():
    """The best epoch's validation pass is what predicting with the restored weights gives, not the last epoch's."""
    model, val, kept = Scale(), _batches(0.5) * 3, ["stale"]
    hist = fit(model, _batches(3.0), val, TrainConfig(epochs=30, lr=0.1, patience=2, lradj="constant",
                                                      progress=False), log=lambda _: None, val_predictions=kept)
    assert hist.best_epoch < len(hist.val_loss) - 1  # later epochs ran with other weights
    pred, _ = predict(model, val)
    assert len(kept) == 1 and kept[0].dtype == np.float32 and kept[0].shape == pred.shape == (48, 2, 1)
    np.testing.assert_array_equal(kept[0], pred)


def test_time_budget_stops_inside_an_epoch_and_keeps_the_best_weights(monkeypatch):
    """A clock that advances one second per reading: a 30-second budget stops the first epoch part-way, validates
    what ran and keeps it; no second epoch starts."""
    import sparsecast.training.trainer as trainer
    clock = iter(range(10 ** 6))
    monkeypatch.setattr(trainer.time, "perf_counter", lambda: float(next(clock)))
    model = Scale()
    steps, val = [], _batches(3.0)
    hist = fit(model, _batches(3.0) * 200, val, TrainConfig(epochs=5, lr=0.01, lradj="constant", progress=False,
                                                          max_minutes=0.5), log=steps.append)
    assert hist.stopped_for_time and not hist.stopped_early
    assert len(hist.val_loss) == 1 and hist.best_epoch == 0
    assert "time budget of 0.5 minutes reached at step" in steps[0]
    stopped_at = int(steps[0].split("at step ")[1].split()[0])
    assert 10 < stopped_at < 200  # inside the epoch of 200 batches
    assert abs(evaluate_loss(model, val) - hist.val_loss[0]) < 1e-9
    with pytest.raises(ValueError, match="max_minutes"):
        TrainConfig(max_minutes=-1)


def test_metrics_values():
    m = forecast_metrics(torch.tensor([1.0, 3.0]).numpy(), torch.tensor([2.0, 2.0]).numpy())
    assert m == {"mse": 1.0, "mae": 1.0, "rmse": 1.0, "mape": 0.5, "mspe": 0.25, "wape": 0.5}


def test_wape_stays_readable_where_a_truth_is_near_zero():
    m = forecast_metrics(np.array([0.101, 10.1]), np.array([0.001, 10.0]))
    assert m["mape"] == pytest.approx((100 + 0.01) / 2)  # one error of 0.1 on a truth of 0.001
    assert m["wape"] == pytest.approx(0.2 / 10.001)
    assert np.isnan(forecast_metrics(np.ones(3), np.zeros(3))["wape"])


class BlowsUp(Scale):
    """Returns NaN from its third training call on."""

    calls = 0

    def forward(self, x, x_mark, future_mark, origin=None):
        self.calls += self.training
        out = super().forward(x, x_mark, future_mark)
        return out * float("nan") if self.calls >= 3 else out


def test_non_finite_loss_stops_with_the_step(tmp_path):
    import pytest
    batches = _batches(1.0) * 4
    ckpt = tmp_path / "ckpt.safetensors"
    with pytest.raises(FloatingPointError, match="at epoch 1, step 3"):
        fit(BlowsUp(), batches, batches, TrainConfig(epochs=2, progress=False), checkpoint=ckpt)
    assert not ckpt.exists()  # no epoch finished, so no checkpoint claims to be good


def test_reading_the_loss_every_few_steps_changes_nothing_but_when_a_nan_is_seen(tmp_path, monkeypatch):
    """As on a GPU, where the loss is read every few steps (no wait for the device per step): the same training
    losses, validation losses and weights as reading every step; a NaN still stops the run naming its step, and no
    checkpoint claims to be good."""
    import sparsecast.training.trainer as trainer
    cfg = TrainConfig(epochs=3, lr=0.05, lradj="constant", progress=False)
    torch.manual_seed(1)
    batches = [batch for _ in range(10) for batch in _batches(2.0)]  # ten different batches
    runs = []
    for every in (1, 4):
        monkeypatch.setattr(trainer, "read_every", lambda device, n=every: n)
        torch.manual_seed(0)
        model = Scale()
        runs.append((fit(model, batches, batches[:2], cfg), model.w.item()))
    (first, w1), (second, w4) = runs
    assert first.train_loss == second.train_loss and first.val_loss == second.val_loss and w1 == w4
    ckpt = tmp_path / "ckpt.safetensors"
    with pytest.raises(FloatingPointError, match="at epoch 1, step 3"):  # read at step 4, the NaN's step named
        fit(BlowsUp(), _batches(1.0) * 8, _batches(1.0), cfg, checkpoint=ckpt)
    assert not ckpt.exists()


def test_loss_tally_sums_windows_and_reads_in_groups():
    from sparsecast.training.tally import LossTally, read_every
    assert read_every(torch.device("cpu")) == 1 and read_every(torch.device("meta")) > 1
    tally = LossTally(every=3)
    assert [tally.add(torch.tensor(v), n, s) for s, (v, n) in enumerate([(1.0, 2), (4.0, 1), (2.0, 1), (3.0, 1)])] \
        == [False, False, True, False]
    assert (tally.total, tally.count) == (8.0, 4)  # the fourth is queued, not read
    tally.read()
    assert tally.mean == pytest.approx(11 / 5)
    tally.add(torch.tensor(float("inf")), 1, 7)
    with pytest.raises(FloatingPointError, match="loss became inf at step 7"):
        tally.read()


def test_nothing_is_ever_unpickled():
    """Weights load through safetensors and metadata through JSON: no torch.load or pickle in the package."""
    from pathlib import Path
    src = Path(__file__).resolve().parents[2] / "src" / "sparsecast"
    offenders = [p.name for p in src.rglob("*.py")
                 if any(word in p.read_text() for word in ("torch.load(", "import pickle", "pickle.load"))]
    assert offenders == []


@pytest.mark.parametrize("loss, optimum", [("mse", 3.0), ("mae", 0.0), ("huber", 3 / 7)])
def test_the_named_loss_is_what_training_minimizes(loss, optimum):
    """Seven windows at 0 and three at 10, a constant input: MSE's best constant forecast is the mean (3), MAE's the
    median (0), Huber's (delta 1) where 7 w = 3 (the three far windows each pull with slope 1). Early stopping reads
    the same loss."""
    x = torch.ones(10, 4, 1)
    y = torch.zeros(10, 2, 1)
    y[7:] = 10.0
    batches = [ForecastBatch(x=x, x_mark=x, future_mark=x[:, :2], y=y)]
    model = Scale()
    hist = fit(model, batches, batches, TrainConfig(epochs=300, lr=0.05, patience=300, lradj="constant", loss=loss,
                                                    progress=False))
    assert model.w.item() == pytest.approx(optimum, abs=0.06)
    named = {"mse": torch.nn.functional.mse_loss, "mae": torch.nn.functional.l1_loss,
             "huber": torch.nn.functional.huber_loss}[loss]
    with torch.no_grad():
        assert min(hist.val_loss) == pytest.approx(named(model(x, x, x[:, :2]), y).item(), rel=1e-6)


def test_an_unknown_loss_stops_with_the_names():
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(loss="l2")
