"""``sparsecast lm``: train the Sparse Transformer on bytes or images and sample from it (the parser's lm part)."""

import json

from .flags import add_device_flag, add_precision_flags


def cmd_lm_train(a) -> None:
    import torch

    from ..training.steps import StepConfig
    from ..lm.experiment import train_lm
    if a.threads:
        torch.set_num_threads(a.threads)
    params = {"n_layers": a.n_layers, "d_model": a.d_model, "n_heads": a.n_heads, "attn": a.attn,
              "combine": a.combine, "stride": a.stride, "c": a.c, "dropout": a.dropout, "recompute": a.recompute,
              "pattern_position": a.pattern_position, "distinct_summaries": a.distinct_summaries}
    cfg = StepConfig(steps=a.steps, lr=a.lr, warmup=a.warmup, grad_clip=a.grad_clip, device=a.device,
                     precision=a.precision, bf16=a.bf16, eval_every=a.eval_every, seed=a.seed,
                     progress=not a.no_progress)
    metrics = train_lm(a.data, params, cfg, a.batch_size, a.out, root_path=a.root_path, context=a.context,
                       eval_batches=a.eval_batches, flat_positions=a.flat_positions)
    print(json.dumps(metrics["test"]))


def cmd_lm_sample(a) -> None:
    from ..lm.experiment import sample_lm
    print(sample_lm(a.run_dir, a.prompt, a.tokens, a.temperature, a.top_k, a.seed))


def add_lm_parsers(sub) -> None:
    """The `lm` subcommand (train, sample) of the ``sparsecast`` parser."""
    lm = sub.add_parser("lm", help="Sparse Transformer on bytes of text or digit images")
    lm_sub = lm.add_subparsers(dest="lm_command", required=True)
    p = lm_sub.add_parser("train", help="train and write DIR/metrics.json with bits per byte (or per dimension)")
    p.add_argument("--data", required=True, help="tinyshakespeare (with --root-path), digits, or a file's path")
    p.add_argument("--root-path", default=None)
    p.add_argument("--attn", default="strided", choices=["strided", "fixed", "full"])
    p.add_argument("--combine", default="interleaved", choices=["interleaved", "merged", "multihead"])
    p.add_argument("--distinct-summaries", action="store_true",
                   help="fixed: every head reads its own c summary positions of each block (the paper's preference)")
    p.add_argument("--stride", type=int, default=None, help="l (default ceil(sqrt(context)))")
    p.add_argument("--c", type=int, default=None, help="fixed: summary positions per block (default l // 8)")
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--n-layers", type=int, default=4)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--n-heads", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--recompute", action="store_true", help="recompute blocks in the backward pass")
    p.add_argument("--pattern-position", action="store_true", help="embed the position within the pattern")
    p.add_argument("--flat-positions", action="store_true", help="images: one 1-D position embedding, not row+col")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--grad-clip", type=float, default=1.0)
    add_device_flag(p)
    add_precision_flags(p)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-batches", type=int, default=20, help="validation batches per evaluation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_lm_train)
    p = lm_sub.add_parser("sample", help="sample text from a trained byte-level run")
    p.add_argument("run_dir")
    p.add_argument("--prompt", default="")
    p.add_argument("--tokens", type=int, default=500)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_lm_sample)
