"""
Basic usage: find the influential time steps
============================================

Train an :class:`~tsinfluence.InfluenceClassifier` on series whose label is decided by a
short hidden event, check that the selected time steps are the event's, and ask for
counterfactuals: the smallest edits of those steps that flip the prediction.
"""

# %%
# Data with a known answer
# ------------------------
# :func:`~tsinfluence.datasets.make_signal_event` hides a three-step event (a shift of
# +2 or -2 on one channel) in Gaussian noise; its sign is the label. ``truth`` marks the
# event's steps, so we can check the explanations against it.
from tsinfluence import InfluenceClassifier
from tsinfluence.datasets import make_signal_event
from tsinfluence.metrics import auroc, precision_at_k

X, y, truth = make_signal_event(n_samples=300, n_timestamps=20, n_channels=3, random_state=0)
X_train, y_train, X_test, y_test = X[:240], y[:240], X[240:], y[240:]
print(X.shape, "-> (series, time steps, channels)")

# %%
# Train
# -----
# ``k=3`` time steps are selected per series; the predictor only sees those.
clf = InfluenceClassifier(k=3, module__hidden_dim=32, max_epochs=20, random_state=0)
clf.fit(X_train, y_train)
print(f"held-out accuracy: {clf.score(X_test, y_test):.2f}")

# %%
# Which steps were selected?
# --------------------------
# ``influence_scores`` gives a per-series distribution over time steps and ``select`` the
# chosen steps. With ground truth we can measure how well they agree.
scores = clf.influence_scores(X_test)
selected = clf.select(X_test)
print(f"AUROC of the influence scores against the event steps: {auroc(scores, truth[240:]):.2f}")
print(f"precision of the top-3 steps: {precision_at_k(scores, truth[240:], k=3):.2f}")
for i in range(3):
    print(
        f"series {i}: selected {selected[i].nonzero()[0].tolist()}, "
        f"event at {truth[240 + i].nonzero()[0].tolist()}"
    )

# %%
# Counterfactuals
# ---------------
# The smallest change of the influential steps that makes the model predict the other
# class.
result = clf.counterfactual(X_test[:4], max_iter=60, random_state=0)
print(result.summary())
print("predictions:", result.y, "->", result.y_cf)
