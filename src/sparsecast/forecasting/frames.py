"""How the Forecaster holds a user's frame: one normalized frame per series id (None for a wide frame), and back."""

import pandas as pd

LONG_COLUMNS = ("unique_id", "ds", "y")


def source(uid) -> str:
    """How messages name a series: the wide frame, or one series of a long frame."""
    return "the DataFrame" if uid is None else f"series {uid!r}"


def is_long(df: pd.DataFrame) -> bool:
    return set(LONG_COLUMNS) <= set(df.columns)


def joined(frames: dict, long: bool) -> pd.DataFrame:
    """Normalized frames per series (a 'date' column) back as the one frame ``fit`` takes: wide, or long."""
    if not long:
        return frames[None]
    return pd.concat([f.rename(columns={"date": "ds"}).assign(unique_id=uid) for uid, f in frames.items()],
                     ignore_index=True)
