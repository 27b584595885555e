import pytest
import torch
from torch import nn

from tsinfluence.nn import AttentionPoolingHead, MLPHead, ModuleAdapter, apply_mask


def _hard_mask(n, t, on):
    mask = torch.zeros(n, t)
    mask[:, on] = 1.0
    return mask


def test_attention_weights_sum_to_one_over_selected_steps():
    head = AttentionPoolingHead(3, 2, hidden_dim=8).eval()
    x = torch.randn(4, 10, 3)
    mask = _hard_mask(4, 10, [1, 4, 7])
    out, weights = head(x, mask)
    assert out.shape == (4, 2)
    assert torch.allclose(weights.sum(1), torch.ones(4))
    assert (weights[mask == 0] == 0).all()


def test_unselected_values_cannot_reach_the_output():
    head = AttentionPoolingHead(3, 2, hidden_dim=8).eval()
    x = torch.randn(2, 10, 3)
    mask = _hard_mask(2, 10, [2, 3])
    x2 = x.clone()
    x2[:, [0, 5, 9]] = 1e3
    assert torch.equal(head(x, mask)[0], head(x2, mask)[0])


def test_attention_head_is_differentiable_in_the_mask_at_every_step():
    """Trap 2: an unselected step must receive a non-zero, value-dependent gradient."""
    head = AttentionPoolingHead(3, 1, hidden_dim=8).eval()
    x = torch.randn(1, 10, 3)
    mask = _hard_mask(1, 10, [2]).requires_grad_()
    head(x, mask)[0].sum().backward()
    grad_unselected = mask.grad[0, [0, 1, 3, 4, 5]]
    assert (grad_unselected.abs() > 0).all()
    # The gradient depends on the unselected value (it says what adding the step would do).
    mask2 = _hard_mask(1, 10, [2]).requires_grad_()
    x2 = x.clone()
    x2[0, 0] += 3.0
    head(x2, mask2)[0].sum().backward()
    assert mask2.grad[0, 0] != mask.grad[0, 0]


def test_padding_gets_zero_weight_even_if_selected():
    head = AttentionPoolingHead(2, 1, hidden_dim=8).eval()
    x = torch.randn(1, 6, 2)
    mask = torch.ones(1, 6)
    pad = torch.tensor([[False, False, False, False, True, True]])
    _, weights = head(x, mask, pad)
    assert (weights[0, 4:] == 0).all()


def test_mlp_head_uses_selected_steps_in_time_order():
    head = MLPHead(2, 3, max_k=4, hidden_dim=8).eval()
    x = torch.randn(5, 12, 2)
    mask = _hard_mask(5, 12, [0, 6, 11])
    out, weights = head(x, mask)
    assert out.shape == (5, 3) and weights is None
    x2 = x.clone()
    x2[:, 3] = 50.0
    assert torch.equal(head(x2, mask)[0], out)
    x2[:, 6] = 50.0
    assert not torch.allclose(head(x2, mask)[0], out)


def test_module_adapter_feeds_the_masked_series():
    seen = {}

    class Spy(nn.Module):
        def forward(self, x):
            seen["x"] = x
            return x.sum(dim=(1, 2))

    x = torch.randn(2, 5, 3)
    mask = _hard_mask(2, 5, [1])
    out, _ = ModuleAdapter(Spy())(x, mask)
    assert out.shape == (2, 1)
    assert torch.equal(seen["x"], apply_mask(x, mask))
    baseline = torch.full((5, 3), 7.0)
    assert torch.equal(apply_mask(x, mask, baseline)[:, 0], torch.full((2, 3), 7.0))


@pytest.mark.parametrize("head", ["attention", "mlp"])
def test_heads_are_finite_with_one_selected_step(head):
    module = AttentionPoolingHead(2, 2) if head == "attention" else MLPHead(2, 2, max_k=1)
    out, _ = module(torch.randn(3, 7, 2), _hard_mask(3, 7, [6]))
    assert torch.isfinite(out).all()
