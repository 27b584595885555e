"""
Advanced features: selection methods, losses, counterfactual methods, attributions
==================================================================================

Compares the three selection strategies, shows the optional loss terms, the counterfactual
methods, a custom selection module and the model-agnostic (black-box) mode.
"""

# %%
# Selection methods
# -----------------
# ``"topk"`` keeps exactly ``k`` steps, ``"gumbel"`` samples ``k`` steps with Gumbel noise
# while training (more exploration), ``"threshold"`` keeps every step whose gate passes
# ``threshold`` (a variable number, ``k`` being the target rate).
import torch

from tsinfluence import InfluenceClassifier
from tsinfluence.datasets import make_box
from tsinfluence.metrics import auroc, comprehensiveness, sufficiency

X, y, truth = make_box(n_samples=200, n_timestamps=16, n_channels=2, random_state=0)
X_train, y_train, X_test, y_test = X[:160], y[:160], X[160:], y[160:]
common = dict(module__hidden_dim=16, module__num_heads=2, max_epochs=12, random_state=0)

for method in ("topk", "gumbel", "threshold"):
    k = 0.25 if method == "threshold" else 4
    clf = InfluenceClassifier(k=k, selection_method=method, **common).fit(X_train, y_train)
    print(
        f"{method:>9}: accuracy {clf.score(X_test, y_test):.2f}, "
        f"AUROC vs truth {auroc(clf.influence_scores(X_test), truth[160:]):.2f}, "
        f"steps per series {clf.select(X_test).sum(1).mean():.1f}"
    )

# %%
# Loss terms
# ----------
# Besides the task loss, a DPP diversity term (``loss__alpha_diversity``) favours dissimilar
# selected steps and an InfoNCE term (``loss__alpha_mi``) keeps the selection informative about
# the whole series. Each component is recorded per epoch in ``history_``.
clf = InfluenceClassifier(k=4, loss__alpha_diversity=0.1, loss__alpha_mi=0.05, **common).fit(
    X_train, y_train
)
last = clf.history_[-1]
print({key: round(float(last[key]), 4) for key in ("train_task", "train_diversity", "train_mi")})

# %%
# Attribution quality without ground truth
# ----------------------------------------
# Comprehensiveness: how much the prediction drops when the top steps are removed;
# sufficiency: how much it drops when only they are kept (lower is better).
scores = clf.influence_scores(X_test)
print(f"comprehensiveness: {comprehensiveness(clf.predict_proba, X_test, scores):.3f}")
print(f"sufficiency:       {sufficiency(clf.predict_proba, X_test, scores):.3f}")

# %%
# Counterfactual methods
# ----------------------
# ``"optimize"`` searches the smallest edit of the selected steps; ``"nearest"`` copies
# them from the closest series of the other class; the model-free seed methods
# (``"perturbation"``, ``"replacement"``, ``"removal"``) edit without looking at the model.
for method in ("optimize", "nearest", "perturbation"):
    result = clf.counterfactual(X_test[:8], method=method, max_iter=60, random_state=0)
    print(
        f"{method:>12}: validity {result.validity:.2f}, mean distance {result.distance.mean():.2f}"
    )

# %%
# A custom selection module
# -------------------------
# Any module mapping scores ``(n, T)`` to a mask ``(n, T)`` can replace the strategy; its
# gradient must reach the scores for the selector to learn.


class AboveMean(torch.nn.Module):
    """Keep the steps scoring above their series' mean score (a variable number)."""

    def forward(self, scores, padding_mask=None):
        finite = scores.masked_fill(torch.isinf(scores), float("nan"))
        mean = torch.nanmean(finite, dim=1, keepdim=True)
        soft = torch.sigmoid(scores - mean)
        hard = (scores > mean).to(scores.dtype)
        return hard + soft - soft.detach()  # exact 0/1 forward, gradient through the sigmoid


custom = InfluenceClassifier(selection_method=AboveMean(), **common).fit(X_train, y_train)
print("steps kept by the custom rule:", custom.select(X_test[:3]).sum(axis=1))

# %%
# Black-box mode
# --------------
# Explain a model you already trained: pass it as ``predictor`` with
# ``freeze_predictor=True``; only the selector is trained.
black_box = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 2, 2))
explainer = InfluenceClassifier(k=4, predictor=black_box, freeze_predictor=True, **common)
explainer.fit(X_train, y_train)
print("black box unchanged:", torch.equal(explainer.predictor[1].weight, black_box[1].weight))
