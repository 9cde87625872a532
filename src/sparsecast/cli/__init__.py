"""The ``sparsecast`` command line, a module per part: ``parser`` (every command and ``main``), ``flags`` (the
flags the forecasting commands share), ``train``, ``runs`` (evaluate, predict, backtest, export on a saved run),
``tables`` (reproduce, benchmark ltsf), ``scores`` (what train and evaluate print) and ``lm`` (lm train, lm sample)."""

from .parser import build_parser, main

__all__ = ["build_parser", "main"]
