"""Per-epoch curves of a training run."""

from dataclasses import dataclass, field


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = -1  # -1: no epoch beat the starting weights (or none ran)
    initial_val_loss: float | None = None  # of a model fitted to the data before training (init_from_data)
    stopped_early: bool = False
    stopped_for_time: bool = False  # the run reached TrainConfig.max_minutes

    @property
    def best_val_loss(self) -> float | None:
        """The validation loss of the weights the run kept: its best epoch's, or its data-fitted start's."""
        losses = self.val_loss + ([self.initial_val_loss] if self.initial_val_loss is not None else [])
        return min(losses) if losses else None
