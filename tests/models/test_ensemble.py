"""The ensemble model: a weighted mean of its members, each on its own lookback; the combination rules' weights."""

import pytest
import torch

from sparsecast.forecasting.auto import RULES, combination_weights
from sparsecast.models import BaselineConfig, DLinear, LongPatch, LongPatchConfig, SeriesConfig, wrap
from sparsecast.models.ensemble import Ensemble, EnsembleConfig
from sparsecast.models.statistical import SeasonalNaive, StatisticalConfig


def _members(C=3, c_out=1, P=6):
    torch.manual_seed(0)
    longpatch_cfg = LongPatchConfig(enc_in=C, c_out=c_out, seq_len=32, pred_len=P, patch_len=8, stride=8,
                                    d_model=16, n_heads=2, e_layers=1, d_ff=16)
    longpatch = wrap(LongPatch(longpatch_cfg), SeriesConfig(revin=True), C, c_out)
    naive_cfg = StatisticalConfig(enc_in=C, c_out=c_out, seq_len=48, pred_len=P, season=12)
    dlinear_cfg = BaselineConfig(enc_in=C, c_out=c_out, seq_len=20, pred_len=P)
    return [("longpatch", longpatch, longpatch_cfg, SeriesConfig(revin=True)),
            ("seasonal_naive", SeasonalNaive(naive_cfg), naive_cfg, SeriesConfig()),
            ("dlinear", DLinear(dlinear_cfg), dlinear_cfg, SeriesConfig())]


def _config(members, weights, C=3, c_out=1, P=6):
    return EnsembleConfig(members=tuple({"model_name": n, "model": cfg.to_dict(), "series": s.to_dict(), "weight": w}
                                        for (n, _, cfg, s), w in zip(members, weights)),
                          enc_in=C, c_out=c_out, seq_len=64, pred_len=P)


def test_the_ensemble_is_the_weighted_mean_of_its_members_each_on_its_own_lookback():
    members, weights = _members(), (0.5, 0.3, 0.2)
    ensemble = Ensemble(_config(members, weights), [m for _, m, _, _ in members]).eval()
    x, x_mark, future_mark = torch.randn(4, 64, 3), torch.randn(4, 64, 4), torch.randn(4, 6, 4)
    origin = torch.tensor([3, 50, 7, 1000])  # LongPatch's seasonal offsets read it
    with torch.no_grad():
        expected = sum(w * m.eval()(x[:, -cfg.seq_len:], x_mark[:, -cfg.seq_len:], future_mark, origin)
                       for (_, m, cfg, _), w in zip(members, weights))
        torch.testing.assert_close(ensemble(x, x_mark, future_mark, origin), expected)
    assert not any(p.requires_grad for p in ensemble.parameters())  # the members were fit on their own


def test_an_ensemble_rebuilt_from_its_config_and_weights_forecasts_the_same():
    members = _members()
    ensemble = Ensemble(_config(members, (0.6, 0.2, 0.2)), [m for _, m, _, _ in members]).eval()
    config = EnsembleConfig.from_dict(ensemble.config.to_dict())
    rebuilt = Ensemble(config)
    rebuilt.load_state_dict(ensemble.state_dict())
    x, marks = torch.randn(2, 64, 3), torch.randn(2, 64, 4)
    with torch.no_grad():
        origin = torch.arange(len(x))
        torch.testing.assert_close(rebuilt.eval()(x, marks, marks[:, :6], origin),
                                   ensemble(x, marks, marks[:, :6], origin))


def test_bad_ensembles_stop_with_one_clear_line():
    members = _members()
    with pytest.raises(ValueError, match="sum to 1"):
        _config(members, (0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="more than the ensemble's seq_len"):
        EnsembleConfig(members=_config(members, (1, 0, 0)).members, seq_len=16)


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_gives_weights_that_sum_to_one_and_favour_the_better_score(rule):
    scores = {"a": 1.0, "b": 1.2, "c": 4.0, "d": 9.0}
    w = combination_weights(scores, rule)
    assert sum(w.values()) == pytest.approx(1) and all(v > 0 for v in w.values())
    ranked = sorted(w, key=scores.get)
    assert ranked[0] == "a" and all(w[x] >= w[y] for x, y in zip(ranked, ranked[1:]))


def test_the_rules_weights():
    scores = {"a": 1.0, "b": 2.0, "c": 4.0}
    assert combination_weights(scores, "choice") == {"a": 1.0}
    assert combination_weights(scores, "inverse") == pytest.approx({"a": 4 / 7, "b": 2 / 7, "c": 1 / 7})
    assert combination_weights(scores, "inverse2") == pytest.approx({"a": 16 / 21, "b": 4 / 21, "c": 1 / 21})
    assert combination_weights(scores, "top2") == {"a": 0.5, "b": 0.5}
    assert combination_weights({"a": 1.0, "b": 1.4, "c": 1.6}, "trimmed") == pytest.approx(
        {"a": 1.4 / 2.4, "b": 1 / 2.4})
    with pytest.raises(ValueError, match="unknown combination rule"):
        combination_weights(scores, "vote")
    with pytest.raises(ValueError, match="finite validation scores"):
        combination_weights({"a": float("nan"), "b": 1.0}, "inverse")


def test_an_ensemble_with_a_statsforecast_member_says_it_refits_per_window():
    members = _members()
    assert not Ensemble(_config(members, (0.5, 0.3, 0.2)), [m for _, m, _, _ in members]).refits_per_window
    pytest.importorskip("statsforecast")
    from sparsecast.models.statistical import AutoETS

    ets = AutoETS(StatisticalConfig(enc_in=3, c_out=1, seq_len=48, pred_len=6, season=12))
    members[1] = ("auto_ets", ets, ets.config, SeriesConfig())
    assert Ensemble(_config(members, (0.5, 0.3, 0.2)), [m for _, m, _, _ in members]).refits_per_window
