"""One fitted estimator used from several threads gives the same results as serial calls."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tsinfluence import InfluenceClassifier, InfluenceRegressor

N, T, D = 48, 16, 3
METHODS = {
    InfluenceClassifier: ("predict", "predict_proba", "influence_scores", "select", "transform"),
    InfluenceRegressor: ("predict", "influence_scores", "select", "transform"),
}


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, T, D)).astype(np.float32)
    X[::3, 12:] = np.nan  # some shorter series
    y = np.arange(N) % 2
    return X, y


@pytest.mark.parametrize("cls", [InfluenceClassifier, InfluenceRegressor])
def test_threads_give_the_serial_results(cls):
    X, y = _data()
    est = cls(
        k=4, max_epochs=2, module__hidden_dim=8, module__num_heads=2, batch_size=8, random_state=0
    )
    est.fit(X, y.astype(float) if cls is InfluenceRegressor else y)
    chunks = [X[i : i + 12] for i in range(0, N, 12)]
    jobs = [(m, c) for m in METHODS[cls] for c in range(len(chunks))] * 3
    serial = {(m, c): getattr(est, m)(chunks[c]) for m, c in set(jobs)}

    def call(job):
        method, c = job
        return job, getattr(est, method)(chunks[c])

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(call, jobs))
    assert len(results) == len(jobs)
    for job, value in results:
        np.testing.assert_array_equal(value, serial[job], err_msg=str(job))
    # nothing was left in a changed state: the same calls again give the same results
    assert not est.net_.module_.training
    for c, chunk in enumerate(chunks):
        np.testing.assert_array_equal(est.predict(chunk), serial["predict", c])
