"""Split borders of the paper's protocol and window arithmetic."""

from hypothesis import given
from hypothesis import strategies as st

from sparsecast.data.splits import n_windows, split_borders


def test_ett_hour_borders_are_the_papers():
    assert split_borders("ett_hour", 17420, 96) == {"train": (0, 8640), "val": (8544, 11520), "test": (11424, 14400)}


def test_ett_minute_borders_are_four_times_the_hourly_ones():
    b = split_borders("ett_minute", 69680, 96)
    assert b == {"train": (0, 34560), "val": (34464, 46080), "test": (45984, 57600)}


def test_custom_borders_70_10_20():
    b = split_borders("custom", 1000, 24)
    assert b == {"train": (0, 700), "val": (676, 800), "test": (776, 1000)}


@given(n=st.integers(10, 100_000), seq=st.integers(1, 800))
def test_custom_splits_are_chronological_and_cover_the_data(n, seq):
    b = split_borders("custom", n, seq)
    assert b["train"][0] == 0 and b["test"][1] == n
    assert b["train"][1] <= b["val"][1] <= b["test"][1]
    # val/test windows start seq_len early, so their first forecast begins right after the previous split
    assert b["val"][0] == max(0, b["train"][1] - seq) and b["test"][0] == max(0, b["val"][1] - seq)


@given(n=st.integers(0, 10_000), seq=st.integers(1, 1000), pred=st.integers(1, 1000))
def test_window_count(n, seq, pred):
    count = n_windows(n, seq, pred)
    assert count == len(range(0, n - seq - pred + 1))
    if count:  # the last window ends exactly at the last row
        assert (count - 1) + seq + pred == n
