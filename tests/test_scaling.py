"""Compression of heavy-tailed channels before standardisation (``scaling``)."""

import numpy as np
import pytest
import torch

from tsinfluence import InfluenceRegressor
from tsinfluence.nn.scaling import (
    HEAVY_TAIL_RATIO,
    InputScaler,
    compress,
    compression_parameters,
    fit_input_scalers,
)


def _series(n=60, length=20, heavy=True, seed=0):
    """Channel 0: counts whose level differs by orders of magnitude between series when
    ``heavy`` (else z-normalised noise); channel 1: z-normalised noise."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n, length, 2))
    noise = (noise - noise.mean(axis=1, keepdims=True)) / noise.std(axis=1, keepdims=True)
    if heavy:
        level = 10.0 ** rng.uniform(0.0, 4.5, size=(n, 1))  # 1 to 30,000
        noise[:, :, 0] = rng.poisson(level * np.linspace(0.5, 1.5, length))
    return torch.as_tensor(noise)


def test_auto_compresses_only_the_heavy_tailed_channel():
    center, spread = compression_parameters(_series(), scaling="auto")
    assert spread[0] > 0 and spread[1] == 0
    assert center[1] == 0


def test_auto_leaves_series_normalised_one_by_one_alone():
    _, spread = compression_parameters(_series(heavy=False), scaling="auto")
    assert torch.equal(spread, torch.zeros(2, dtype=torch.float64))


def test_standard_never_and_asinh_always_compresses():
    x = _series()
    _, spread = compression_parameters(x, scaling="standard")
    assert (spread == 0).all()
    _, spread = compression_parameters(_series(heavy=False), scaling="asinh")
    assert (spread > 0).all()
    constant = torch.ones(4, 5, 1)
    _, spread = compression_parameters(constant, scaling="asinh")
    assert (spread == 0).all()  # nothing to compress


def test_auto_needs_series_of_several_steps():
    """One step per series (tabular data) says nothing about a series' own spread."""
    x = torch.as_tensor(10.0 ** np.random.default_rng(0).uniform(0, 4.5, size=(50, 1, 1)))
    _, spread = compression_parameters(x, scaling="auto")
    assert spread[0] == 0
    _, spread = compression_parameters(x, scaling="asinh")  # asked for: the mean deviation
    assert spread[0] > 0


def test_padded_steps_do_not_count():
    x = _series(heavy=False)
    padding = torch.zeros(x.shape[:2], dtype=torch.bool)
    padding[:, -5:] = True
    x[:3, -5:, 0] = 1e6  # huge values, but only at padded steps
    _, spread = compression_parameters(x, padding, scaling="auto")
    assert (spread == 0).all()


def test_bad_scaling_is_refused():
    with pytest.raises(ValueError, match="scaling must be one of"):
        compression_parameters(_series(), scaling="log")


def test_compression_is_smooth_and_keeps_the_order():
    x = torch.linspace(-50.0, 50.0, 101, dtype=torch.float64).reshape(1, -1, 1)
    x.requires_grad_(True)
    center, spread = torch.tensor([0.0]), torch.tensor([2.0])
    out = compress(x, center, spread)
    out.sum().backward()
    assert (out.diff(dim=1) > 0).all()  # monotone: same order of values
    assert (x.grad > 0).all()  # a gradient at the center too (counterfactual search)
    assert out.abs().max() < 4.0  # 50 spreads become about log(50) + log(2)


def test_scaler_brings_the_typical_series_to_unit_scale():
    x = _series().float()
    plain, compressed = InputScaler(2), InputScaler(2)
    fit_input_scalers(torch.nn.Sequential(plain), x, scaling="standard")
    fit_input_scalers(torch.nn.Sequential(compressed), x, scaling="auto")
    for scaler in (plain, compressed):  # both standardise the training data
        out = scaler(x).reshape(-1, 2)
        np.testing.assert_allclose(out.mean(0).numpy(), 0.0, atol=1e-4)
        np.testing.assert_allclose(out.std(0, unbiased=False).numpy(), 1.0, atol=1e-4)
    # ... but only compression leaves the typical series more than a flat line
    typical = {
        name: float(scaler(x)[:, :, 0].std(dim=1).median())
        for name, scaler in (("standard", plain), ("auto", compressed))
    }
    assert typical["standard"] < HEAVY_TAIL_RATIO
    assert typical["auto"] > 2 * typical["standard"]


def test_a_state_dict_without_compression_loads_as_standardisation():
    x = _series().float()
    scaler = InputScaler(2)
    fit_input_scalers(torch.nn.Sequential(scaler), x, scaling="standard")
    old = {n: v for n, v in scaler.state_dict().items() if n in ("mean", "scale")}
    other = InputScaler(2)
    other.load_state_dict(old)  # strict: the missing buffers are filled
    assert torch.equal(other(x), scaler(x))
    assert (other.spread == 0).all()


def test_the_estimator_fits_its_scalers_with_its_scaling():
    x = _series(n=32, length=12).numpy()
    y = np.log1p(x[:, :, 0].mean(axis=1))
    spreads = {}
    for scaling in ("auto", "standard"):
        reg = InfluenceRegressor(k=3, scaling=scaling, max_epochs=1, random_state=0).fit(x, y)
        scalers = [m for m in reg.net_.module_.modules() if isinstance(m, InputScaler)]
        assert len(scalers) >= 2  # the scorer's and the predictor's
        spreads[scaling] = [s.spread.tolist() for s in scalers]
    assert all(s[0] > 0 and s[1] == 0 for s in spreads["auto"])
    assert all(s == [0.0, 0.0] for s in spreads["standard"])
    with pytest.raises(ValueError, match="scaling"):
        InfluenceRegressor(scaling="log").fit(x, y)
