"""
A tour of the plots
===================

:mod:`tsinfluence.plotting` draws a series with its influence map, the global influence of
each time step, the training history with its phases, and a counterfactual next to its
original. matplotlib is optional: ``pip install "tsinfluence[plot]"``.
"""

# %%
# Fit on data whose influential steps are fixed
# ---------------------------------------------
# In the ``"middle"`` box pattern the label lives in the same steps of every series, so the
# global influence should peak there.
import matplotlib.pyplot as plt
import numpy as np

from tsinfluence import InfluenceClassifier
from tsinfluence.datasets import make_box
from tsinfluence.plotting import (
    plot_counterfactual,
    plot_history,
    plot_influence,
    plot_influence_summary,
)

X, y, truth = make_box(
    n_samples=200, n_timestamps=20, n_channels=2, pattern="middle", random_state=0
)
clf = InfluenceClassifier(
    k=4, module__hidden_dim=16, module__num_heads=2, max_epochs=15, random_state=0
)
clf.fit(X[:160], y[:160])
X_test, truth_test = X[160:], truth[160:]

# %%
# One series and its influence map
# --------------------------------
# The background colour is the per-step influence, triangles mark the selected steps and
# the hatched span is the ground truth.
i = 0
plot_influence(
    X_test[i],
    clf.influence_scores(X_test[i : i + 1])[0],
    selected=clf.select(X_test[i : i + 1])[0],
    truth=truth_test[i],
    title=f"series {i}: predicted class {clf.predict(X_test[i : i + 1])[0]}",
)

# %%
# Global influence
# ----------------
# ``influence_scores_`` averages the per-series influence over the training data; the red
# bars are ``selected_timestamps_`` (what the global ``transform`` keeps).
plot_influence_summary(clf, truth=truth[0], title="global influence")

# %%
# Training history
# ----------------
# The default ``training_scheme="two_stage"`` first trains the predictor on random subsets
# (the *evaluator* phase), then the selector against it (the *selector* phase).
plot_history(clf, title="loss per epoch")

# %%
# A counterfactual
# ----------------
# The smallest edit of the influential steps that flips the prediction; the orange spans
# are the steps the search was allowed to edit.
result = clf.counterfactual(X_test[:1], max_iter=100, random_state=0)
plot_counterfactual(
    result.X[0],
    result.X_cf[0],
    edited=result.edited[0],
    title=f"prediction {result.y[0]} -> {result.y_cf[0]}",
)

# %%
# Several panels on one figure
# ----------------------------
# Every function takes ``ax=``, so they compose into your own layouts.
fig, axes = plt.subplots(3, 1, figsize=(8, 8), constrained_layout=True)
scores = clf.influence_scores(X_test[:3])
for ax, series, score, true in zip(axes, X_test[:3], scores, truth_test[:3]):
    plot_influence(series, score, truth=true, ax=ax, colorbar=False)
print("mean influence on the true steps:", float(np.mean(scores[truth_test[:3]])))
plt.show()
