"""
Pipelines, grid search, other data layouts, saving models
=========================================================

The estimators follow scikit-learn's API: they fit in pipelines, grid searches and
cross-validation. This example also shows unequal-length data, aeon/sktime's axis order
and how to save a fitted model without pickle.
"""

# %%
# Select time steps, then classify with any scikit-learn model
# ------------------------------------------------------------
# ``transform`` keeps the globally most influential steps (stable columns, like
# ``SelectKBest`` over time) as a 2D table.
import os
import tempfile

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from tsinfluence import InfluenceClassifier
from tsinfluence.datasets import make_box
from tsinfluence.persistence import load_model, save_model
from tsinfluence.utils import from_channels_first, pad_sequences

X, y, truth = make_box(n_samples=160, n_timestamps=12, n_channels=2, random_state=0)
selector = InfluenceClassifier(
    k=3, module__hidden_dim=16, module__num_heads=2, max_epochs=8, random_state=0
)
pipe = make_pipeline(selector, LogisticRegression())
pipe.fit(X[:120], y[:120])
print(f"pipeline accuracy: {pipe.score(X[120:], y[120:]):.2f}")
print("kept columns:", list(pipe[0].get_feature_names_out()))

# %%
# Grid search
# -----------
# Every hyper-parameter is an ``__init__`` argument, so ``GridSearchCV`` (and
# ``clone``/``set_params``) just work. With Dask installed, ``joblib.parallel_backend("dask")``
# distributes the fits (see the user guide).
search = GridSearchCV(selector, {"k": [2, 4]}, cv=2)
search.fit(X[:120], y[:120])
print("best k:", search.best_params_["k"], f"(cv accuracy {search.best_score_:.2f})")

# %%
# Series of different lengths and channels-first data
# ---------------------------------------------------
# A list of ``(T_i, D)`` arrays, or a trailing-NaN padded array, is accepted directly; the
# padding is never selected. aeon/sktime store ``(n, channels, time)``: convert explicitly.
ragged = [X[120][:8], X[121], X[122][:10]]
padded, padding_mask = pad_sequences(ragged, length=12)
best = search.best_estimator_
print("selected steps per ragged series:", best.select(padded).sum(axis=1))
print("no padded step selected:", not (best.select(padded) & padding_mask).any())
channels_first = np.transpose(X[120:125], (0, 2, 1))  # as aeon would store it
print(
    "same predictions:",
    (best.predict(from_channels_first(channels_first)) == best.predict(X[120:125])).all(),
)

# %%
# Save and load without pickle
# ----------------------------
# :func:`~tsinfluence.persistence.save_model` writes a zip of JSON metadata and a
# weights-only ``state_dict``; :func:`~tsinfluence.persistence.load_model` never unpickles.
path = os.path.join(tempfile.mkdtemp(), "model.pt")
save_model(best, path)
loaded = load_model(path)
print(
    "identical influence scores:", np.allclose(loaded.influence_scores(X), best.influence_scores(X))
)
