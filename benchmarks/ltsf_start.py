"""LongPatch's closed-form start alone (no training), as the LTSF recipe builds it: its validation and test MSE, and
optionally the test MSE per channel beside repeating the last value. What compares a change to the start
(e.g. one skip per channel) on validation before any cell is trained.

    python benchmarks/ltsf_start.py --data weather --horizon 96 --per-channel
    python benchmarks/ltsf_start.py --data weather --horizon 96 --set channel_skip=true
    python benchmarks/ltsf_start.py --data weather --horizon 96 --set channel_skip=false

The default (channel_skip unset) fits both skips and keeps the one validation prefers, as training does.
"""

import argparse

import torch

from sparsecast.data import prepare_data
from sparsecast.forecasting import ltsf
from sparsecast.forecasting.experiment import build_forecaster
from sparsecast.forecasting.scoring import score
from sparsecast.training.trainer import TrainConfig


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="ETTh1")
    ap.add_argument("--horizon", type=int, default=96)
    ap.add_argument("--root-path", default="../shared/data")
    ap.add_argument("--set", default="", help="the variant's overrides, e.g. channel_skip=true,revin=false")
    ap.add_argument("--per-channel", action="store_true", help="also each channel's test MSE and repeat-last's")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    label, recipe, overrides = ltsf.parse_variant("longpatch" + (":" + args.set if args.set else ""))
    data_cfg, settings, _ = ltsf.cell_setup(args.data, recipe, overrides, args.horizon, args.root_path,
                                             TrainConfig(), 0)
    prepared = prepare_data(data_cfg)
    model, _, _ = build_forecaster("longpatch", settings, data_cfg, prepared)
    model.init_from_data(prepared.splits["train"].loader(256), prepared.splits["val"].loader(256))
    model.eval()
    val = score(model, prepared, "val", 256)[0]
    test, pred, true, _, _ = score(model, prepared, "test", 256)
    skip = "per channel" if model.config.channel_skip else "shared"
    print(f"{args.data} {data_cfg.seq_len} -> {args.horizon} {label} ({skip} skip): start validation MSE "
          f"{val['mse']:.5f}, test MSE {test['mse']:.5f} / MAE {test['mae']:.5f}")
    if args.per_channel:
        last = torch.cat([b.x[:, -1, -true.shape[-1]:] for b in prepared.splits["test"].loader(512)]).numpy()
        repeat = ((last[:, None, :] - true) ** 2).mean(axis=(0, 1))  # (C_out,)
        start = ((pred - true) ** 2).mean(axis=(0, 1))
        print("| channel | start | repeat last |\n|---|---|---|")
        for name, a, b in zip(prepared.target_columns, start, repeat):
            print(f"| {name} | {a:.3f} | {b:.3f} |")


if __name__ == "__main__":
    main()
