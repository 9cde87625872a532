"""Forecasting runs: train, evaluate, save and load."""

from .evaluate import evaluate_run
from .experiment import train_run
from .run_dir import load_run

__all__ = ["evaluate_run", "load_run", "train_run"]
