from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def cpu_unless_gpu_test(request, monkeypatch):
    """Tests run on the CPU even where torch sees a GPU (device "auto" would take it, and several tests compare
    runs bit for bit); a test marked ``gpu`` sees the GPU."""
    if "gpu" not in request.keywords:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA} (a user's clone has no ../shared)")
    return SHARED_DATA


# Tiny test models gain nothing from more threads, and extra threads spin against other work on small machines.
torch.set_num_threads(1)


@pytest.fixture
def fresh_dynamo():
    """torch.compile's caches emptied before and after the test, whether it passes or not."""
    import torch._dynamo
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
