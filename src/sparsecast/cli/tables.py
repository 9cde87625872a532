"""The table commands: ``reproduce`` (the Informer paper's tables) and ``benchmark ltsf`` (the LTSF protocol)."""

from pathlib import Path

from .flags import given_train_flags, train_config


def cmd_reproduce(a) -> None:
    from ..forecasting.reproduce import reproduce
    horizons = [int(h) for h in a.horizons.split(",")] if a.horizons else None
    models = a.models.split(",") if a.models else None
    seeds = [int(s) for s in a.seeds.split(",")] if a.seeds else None
    path = reproduce(a.table, a.data, Path(a.out), a.root_path, horizons, train_config(a), models, seeds=seeds)
    print(path.read_text())


def cmd_benchmark_ltsf(a) -> None:
    from ..forecasting.ltsf import HORIZONS, ltsf_table
    if a.summary:
        from ..forecasting.ltsf_summary import write_summary
        print(write_summary(Path(a.out), Path(a.readme) if a.readme else None).read_text())
        return
    horizons = [int(h) for h in a.horizons.split(",")] if a.horizons else list(HORIZONS)
    seeds = [int(s) for s in a.seeds.split(",")]
    path = ltsf_table(a.data, split_models(a.models), horizons, seeds, Path(a.out), a.root_path, train_config(a),
                      train_overrides=given_train_flags(a))
    print(path.read_text())


def split_models(text: str) -> list[str]:
    """Split a --models list at commas that start a new model (``longpatch:attn=full,seq_len=336,dlinear``): a part
    that is a key=value continues the model before it, any other part (a model's name) starts one."""
    out = []
    for part in text.split(","):
        if out and "=" in part.partition(":")[0]:
            out[-1] += "," + part
        else:
            out.append(part)
    return out
