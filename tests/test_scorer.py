import pytest
import torch

from tsinfluence.nn import AttentionScorer
from tsinfluence.nn.positional import make_positional_encoding


@pytest.mark.parametrize("pe", ["sinusoidal", "learned", None])
@pytest.mark.parametrize("num_layers", [0, 2])
def test_scorer_shapes(pe, num_layers):
    scorer = AttentionScorer(
        3, hidden_dim=16, num_heads=4, num_layers=num_layers, positional_encoding=pe, max_len=50
    )
    out = scorer(torch.randn(5, 12, 3))
    assert out.shape == (5, 12)
    assert torch.isfinite(out).all()


def test_padded_steps_get_minus_inf_and_do_not_affect_valid_steps():
    scorer = AttentionScorer(2, hidden_dim=8, num_heads=2, dropout=0.0).eval()
    x = torch.randn(1, 10, 2)
    pad = torch.zeros(1, 10, dtype=torch.bool)
    pad[0, 6:] = True
    out = scorer(x, pad)
    assert torch.isneginf(out[0, 6:]).all() and torch.isfinite(out[0, :6]).all()
    # Changing padded values changes nothing: padding is masked as a key.
    x2 = x.clone()
    x2[0, 6:] = 100.0
    assert torch.allclose(scorer(x2, pad)[0, :6], out[0, :6], atol=1e-6)
    # And the result equals scoring the unpadded series alone.
    assert torch.allclose(scorer(x[:, :6])[0], out[0, :6], atol=1e-5)


def test_causal_scores_ignore_the_future():
    scorer = AttentionScorer(2, hidden_dim=8, num_heads=2, dropout=0.0, causal=True).eval()
    x = torch.randn(1, 10, 2)
    x2 = x.clone()
    x2[0, 7:] += 5.0
    a, b = scorer(x), scorer(x2)
    assert torch.allclose(a[0, :7], b[0, :7], atol=1e-6)
    assert not torch.allclose(a[0, 7:], b[0, 7:])


def test_non_causal_scores_see_the_future():
    scorer = AttentionScorer(2, hidden_dim=8, num_heads=2, dropout=0.0).eval()
    x = torch.randn(1, 10, 2)
    x2 = x.clone()
    x2[0, 7:] += 5.0
    assert not torch.allclose(scorer(x)[0, :7], scorer(x2)[0, :7])


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        AttentionScorer(3, hidden_dim=10, num_heads=4)
    with pytest.raises(ValueError, match="positional_encoding"):
        make_positional_encoding("rotary", 8, 10)
    scorer = AttentionScorer(3, hidden_dim=8, num_heads=2, positional_encoding="learned", max_len=5)
    with pytest.raises(ValueError, match="max_len=5"):
        scorer(torch.randn(1, 6, 3))
