"""The convolutional predictor head and scorer (tsinfluence.nn.conv)."""

import pytest
import torch

from tsinfluence.nn.conv import (
    FILLS,
    MAX_RESOLUTION,
    POSITION_FREQUENCIES,
    ConvHead,
    ConvScorer,
    interpolate_unselected,
    relative_positions,
)


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("length", [12, 3 * MAX_RESOLUTION + 5])
def test_conv_head_sees_only_the_selected_valid_steps(length, fill):
    torch.manual_seed(0)
    head = ConvHead(2, 3, hidden_dim=8, fill=fill).eval()
    x = torch.randn(4, length, 2)
    mask = (torch.rand(4, length) < 0.3).float()
    pad = torch.zeros(4, length, dtype=torch.bool)
    pad[0, length // 2 :] = True
    out, weights = head(x, mask, pad)
    assert out.shape == (4, 3) and weights is None
    # Changing what is not selected, or what is padding, changes nothing.
    hidden = (mask == 0) | pad.float().bool()
    x2 = torch.where(hidden.unsqueeze(-1), torch.randn_like(x) * 100, x)
    assert torch.allclose(head(x2, mask, pad)[0], out, atol=1e-5)
    # Changing a selected valid step does change the output.
    i, t = torch.nonzero((mask > 0) & ~pad)[0]
    x3 = x.clone()
    x3[i, t] += 10.0
    assert not torch.allclose(head(x3, mask, pad)[0][i], out[i])


@pytest.mark.parametrize("fill", FILLS)
def test_conv_head_is_differentiable_in_the_mask_at_every_valid_step(fill):
    torch.manual_seed(0)
    head = ConvHead(1, 2, hidden_dim=8, fill=fill).eval()
    x = torch.randn(3, 20, 1)
    mask = torch.zeros(3, 20)
    mask[:, :5] = 1.0
    mask.requires_grad_(True)
    pad = torch.zeros(3, 20, dtype=torch.bool)
    pad[2, 15:] = True
    head(x, mask, pad)[0][:, 0].sum().backward()
    grad = mask.grad
    assert (grad[:2] != 0).all()  # unselected steps too: the selector can learn to add them
    assert (grad[2, :15] != 0).all() and (grad[2, 15:] == 0).all()


@pytest.mark.parametrize("fill", FILLS)
def test_conv_head_accepts_any_length_and_an_empty_selection(fill):
    head = ConvHead(1, 2, hidden_dim=8, fill=fill).eval()
    for length in (2, 40, 300):
        out, _ = head(torch.randn(2, length, 1), torch.zeros(2, length))
        assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_conv_scorer_gives_minus_inf_at_padding_and_ignores_padded_values():
    torch.manual_seed(0)
    scorer = ConvScorer(2, hidden_dim=8).eval()
    x = torch.randn(3, 16, 2)
    pad = torch.zeros(3, 16, dtype=torch.bool)
    pad[1, 10:] = True
    logits = scorer(x, pad)
    assert logits.shape == (3, 16)
    assert torch.isneginf(logits[1, 10:]).all() and torch.isfinite(logits[~pad]).all()
    x2 = x.clone()
    x2[1, 10:] = 1e3
    assert torch.allclose(scorer(x2, pad), logits)


def test_relative_positions_span_each_valid_length():
    valid = torch.ones(2, 5)
    valid[1, 3:] = 0
    pos = relative_positions(valid)
    assert pos.shape == (2, 2 * POSITION_FREQUENCIES, 5)
    assert torch.allclose(pos[0, 1], torch.cos(torch.pi * torch.arange(5) / 4))
    assert torch.allclose(pos[0, 3], torch.cos(2 * torch.pi * torch.arange(5) / 4), atol=1e-6)
    assert torch.allclose(pos[1, 1, :3], torch.tensor([1.0, 0.0, -1.0]), atol=1e-6)
    assert (pos[1, :, 3:] == 0).all()


@pytest.mark.parametrize("scale, shift", [(1e6, 0.0), (1e-8, 0.0), (1e3, 1e7)])
def test_conv_modules_are_invariant_to_the_units_of_the_input(scale, shift):
    from tsinfluence.nn.scaling import fit_input_scalers

    torch.manual_seed(0)
    x = torch.randn(6, 30, 2, dtype=torch.float64)
    mask = (torch.rand(6, 30) < 0.4).double()
    head = ConvHead(2, 3, hidden_dim=8, fill="interpolate").double().eval()
    scorer = ConvScorer(2, hidden_dim=8).double().eval()
    fit_input_scalers(head, x)
    fit_input_scalers(scorer, x)
    out, logits = head(x, mask)[0], scorer(x)
    y = x * scale + shift
    fit_input_scalers(head, y)
    fit_input_scalers(scorer, y)
    assert torch.allclose(head(y, mask)[0], out, atol=1e-6)
    assert torch.allclose(scorer(y), logits, atol=1e-6)


def test_interpolate_unselected_draws_lines_between_selected_steps():
    x = torch.arange(8.0).reshape(1, 8, 1) ** 2
    x = torch.cat([x, x, x]).repeat(1, 1, 2)
    selected = torch.zeros(3, 8, dtype=torch.bool)
    selected[0, [1, 4]] = True
    selected[1, 5] = True  # one step: repeated everywhere
    out = interpolate_unselected(x, selected)
    expected = torch.tensor([1.0, 1.0, 6.0, 11.0, 16.0, 16.0, 16.0, 16.0])
    assert torch.equal(out[0, :, 0], expected) and torch.equal(out[0, :, 1], expected)
    assert (out[1] == 25.0).all()
    assert (out[2] == 0.0).all()  # nothing selected


def test_conv_head_rejects_an_unknown_fill():
    with pytest.raises(ValueError, match="fill must be one of"):
        ConvHead(1, 2, fill="nearest")


def test_conv_head_rejects_a_coarse_factor_below_two():
    with pytest.raises(ValueError, match="coarse_factor must be None or >= 2"):
        ConvHead(1, 2, coarse_factor=1)


def test_conv_head_loads_weights_without_coarse_blocks_as_that_network():
    # Model files of format 5 and earlier: the network had no coarse copy of the blocks.
    torch.manual_seed(0)
    single = ConvHead(2, 3, hidden_dim=8, coarse_factor=None).eval()
    head = ConvHead(2, 3, hidden_dim=8).eval()
    assert head.coarse_blocks is not None and head.out[0].in_features == 16
    head.load_state_dict(single.state_dict())
    assert head.coarse_blocks is None and head.coarse_factor is None
    x, mask = torch.randn(4, 30, 2), (torch.rand(4, 30) < 0.3).float()
    assert torch.equal(head(x, mask)[0], single(x, mask)[0])
    # Weights with the coarse blocks still load into a network that has them.
    two = ConvHead(2, 3, hidden_dim=8).eval()
    two.load_state_dict(ConvHead(2, 3, hidden_dim=8).state_dict())
    assert two.coarse_blocks is not None
