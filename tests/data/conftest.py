"""Per-sample work in tests/data runs single-threaded, as in DataLoader workers (torch's
intra-op threads only contend on small tensors)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
