"""Hyper-parameter search on a Dask cluster gives the serial result."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from tsinfluence import InfluenceClassifier

distributed = pytest.importorskip("distributed")


def test_grid_search_on_dask_matches_n_jobs_1():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 10, 2)).astype(np.float32)
    y = np.arange(40) % 2
    X[y == 1, 3, 0] += 2.0
    est = InfluenceClassifier(
        max_epochs=2, module__hidden_dim=8, module__num_heads=2, random_state=0
    )
    grid = {"k": [2, 5]}
    serial = GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with distributed.get_task_stream(client) as tasks, joblib.parallel_config(backend="dask"):
            dask = GridSearchCV(est, grid, cv=2, n_jobs=-1).fit(X, y)
        workers = {t["worker"] for t in tasks.data}
    assert len(tasks.data) >= 4  # 2 candidates x 2 folds ran on the cluster
    assert workers, "no task ran on a Dask worker"
    assert dask.best_params_ == serial.best_params_
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_allclose(dask.cv_results_[key], serial.cv_results_[key], rtol=1e-6)
    np.testing.assert_allclose(dask.predict_proba(X), serial.predict_proba(X), rtol=1e-6)
