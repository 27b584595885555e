"""Shared fixtures: small, seeded data."""

import os

# Tiny models: one thread avoids oversubscription on small CI machines (measured 4.4 s with
# two threads vs 0.17 s with one for a small fit on a loaded 2-core machine). Subprocesses
# started by tests inherit the variable.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

# TSINFLUENCE_TEST_THREADS=<n> runs the tests with n torch threads instead (OMP_NUM_THREADS
# does not change it): a check that tests whose assertions depend on training do not rely on
# the floating-point path of one thread count.
torch.set_num_threads(int(os.environ.get("TSINFLUENCE_TEST_THREADS", "1")))


@pytest.fixture(autouse=True)
def _seed_torch():
    """Each test starts from the same global torch state."""
    torch.manual_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def make_marker_task(n: int, length: int = 20, seed: int = 0):
    """One marked step per series; the label is the sign of channel 0 at that step.

    Returns ``x (n, T, 3)``, ``y (n,)`` long and the marked positions ``(n,)``.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, length, 3, generator=g)
    pos = torch.randint(0, length, (n,), generator=g)
    x[:, :, 1] = 0.0
    x[torch.arange(n), pos, 1] = 1.0
    y = (x[torch.arange(n), pos, 0] > 0).long()
    return x, y, pos
