import pytest
import torch
from torch import nn

from tsinfluence.nn import CombinedLoss, InfoNCECritic, dpp_diversity_loss, mi_loss


def _mask(n, t, k):
    mask = torch.zeros(n, t)
    mask[:, :k] = 1.0
    return mask


@pytest.mark.parametrize(
    "features, k",
    [
        (torch.zeros(3, 8, 2), 4),  # constant series
        (torch.ones(3, 8, 2).cumsum(1) * 0 + 5.0, 8),  # duplicated steps, k = T
        (torch.randn(3, 8, 2), 1),  # k = 1
        (torch.randn(3, 8, 2) * 1e6, 8),  # huge values
    ],
)
def test_dpp_is_finite_on_degenerate_inputs(features, k):
    mask = _mask(3, 8, k).requires_grad_()
    loss = dpp_diversity_loss(features, mask)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(mask.grad).all()
    assert loss >= -1e-6


def test_dpp_prefers_diverse_selections():
    x = torch.zeros(1, 6, 1)
    x[0, :, 0] = torch.tensor([0.0, 0.01, 0.02, 3.0, 6.0, 9.0])
    similar = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]])
    diverse = torch.tensor([[0.0, 0.0, 1.0, 1.0, 1.0, 0.0]])
    assert dpp_diversity_loss(x, similar) > dpp_diversity_loss(x, diverse) + 1.0


def test_dpp_rejects_bad_sigma():
    with pytest.raises(ValueError, match="sigma"):
        dpp_diversity_loss(torch.randn(2, 4, 1), _mask(2, 4, 2), sigma=0.0)


def test_mi_loss_rewards_informative_selections():
    torch.manual_seed(0)
    x = torch.randn(64, 10, 3)
    critic = InfoNCECritic(3)
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-2)
    informative = torch.ones(64, 10)
    for _ in range(100):
        loss = mi_loss(critic, x, informative)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert mi_loss(critic, x, informative) < torch.log(torch.tensor(64.0)) - 1.0
    assert mi_loss(critic, x[:1], informative[:1]).item() == 0.0


def test_lazy_critic_infers_dims():
    critic = InfoNCECritic(None)
    assert critic(torch.randn(4, 5), torch.randn(4, 5)).shape == (4, 4)


def test_combined_loss_components_and_weights():
    preds, targets = torch.randn(8, 1), torch.randn(8, 1)
    x, mask = torch.randn(8, 10, 3), _mask(8, 10, 3)
    loss_fn = CombinedLoss(
        task_loss_fn=nn.MSELoss(),
        alpha_task=1.0,
        alpha_diversity=0.1,
        alpha_mi=0.05,
        use_mi=True,
        sigma=1.0,
    )
    total, parts = loss_fn(preds, targets, features=x, mask=mask, budget=torch.tensor(0.5))
    assert set(parts) == {"task", "diversity", "mi", "budget", "total"}
    expected = parts["task"] + 0.1 * parts["diversity"] + 0.05 * parts["mi"] + 0.5
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    task_only, parts = CombinedLoss()(preds, targets)
    assert task_only.item() == pytest.approx(nn.functional.mse_loss(preds, targets).item())
    assert parts["diversity"] == 0 and parts["mi"] == 0


def test_custom_task_loss():
    def l1(p, t):
        return (p - t).abs().mean()

    total, parts = CombinedLoss(task_loss_fn=l1, alpha_diversity=0.0)(
        torch.ones(2, 1), torch.zeros(2, 1)
    )
    assert total.item() == pytest.approx(1.0)
