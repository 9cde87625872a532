"""Checks the frozen config dataclasses share: each raises ValueError with one line naming the setting."""


def require_positive(config, names) -> None:
    """Every attribute in ``names`` of ``config`` is at least 1."""
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")


def require_targets_in_inputs(config) -> None:
    """A forecasting config's ``c_out`` forecast channels are among (the last of) its ``enc_in`` input channels."""
    if config.c_out > config.enc_in:
        raise ValueError(f"c_out ({config.c_out}) cannot exceed enc_in ({config.enc_in})")
