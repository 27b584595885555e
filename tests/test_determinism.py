"""Determinism and persistence across processes; batch-size independent inference."""

import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
import torch

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence.estimators import _explain

N, T, D = 32, 12, 2
PARAMS = dict(
    k=3, max_epochs=2, module__hidden_dim=8, module__num_heads=2, batch_size=16, random_state=7
)


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, T, D)).astype(np.float32)
    y = np.arange(N) % 2
    X[y == 1, 4, 0] += 2.0
    return X, y


def _fingerprint(est, X) -> dict:
    """Exact (bitwise) description of a fitted estimator and its outputs."""
    h = hashlib.sha256()
    for name, tensor in sorted(est.net_.module_.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    out = {
        "weights": h.hexdigest(),
        "losses": [float(v) for v in est.history_[:, "train_loss"]],
    }
    for method in ("predict_proba", "influence_scores", "select"):
        if hasattr(est, method):
            value = np.ascontiguousarray(getattr(est, method)(X))
            out[method] = hashlib.sha256(value.tobytes()).hexdigest()
    return out


CHILD = textwrap.dedent(
    """
    import json, pickle, sys
    import joblib, numpy as np, torch
    torch.set_num_threads({threads})
    sys.path.insert(0, {tests!r})
    from test_determinism import PARAMS, _data, _fingerprint
    from tsinfluence import InfluenceClassifier
    X, y = _data()
    result = {{"fit": _fingerprint(InfluenceClassifier(**PARAMS).fit(X, y), X)}}
    with open({pickle_path!r}, "rb") as f:
        result["pickle"] = _fingerprint(pickle.load(f), X)
    result["joblib"] = _fingerprint(joblib.load({joblib_path!r}), X)
    if {safe_path!r}:
        from tsinfluence.persistence import load_model
        est = load_model({safe_path!r})
        result["safe"] = {{k: v for k, v in _fingerprint(est, X).items() if k != "losses"}}
    print("RESULT" + json.dumps(result))
    """
)


def _run_child(code: str, env: dict | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT") :])


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    return InfluenceClassifier(**PARAMS).fit(X, y)


def test_same_random_state_is_bit_identical_across_processes(fitted, tmp_path):
    """Fit in a fresh process; round-trip pickle/joblib/safe files through it."""
    X, _ = _data()
    here = _fingerprint(fitted, X)
    with open(tmp_path / "m.pkl", "wb") as f:
        pickle.dump(fitted, f)
    joblib.dump(fitted, tmp_path / "m.joblib")
    safe = ""
    try:
        from tsinfluence.persistence import save_model
    except ImportError:  # the safe format has not landed
        pass
    else:
        safe = str(tmp_path / "m.tsinfluence")
        save_model(fitted, safe)
    code = CHILD.format(
        threads=torch.get_num_threads(),
        tests=os.path.dirname(__file__),
        pickle_path=str(tmp_path / "m.pkl"),
        joblib_path=str(tmp_path / "m.joblib"),
        safe_path=safe,
    )
    child = _run_child(code)
    assert child["fit"] == here
    assert child["pickle"] == here
    assert child["joblib"] == here
    if safe:
        assert child["safe"] == {k: v for k, v in here.items() if k != "losses"}


@pytest.mark.parametrize("cls", [InfluenceClassifier, InfluenceRegressor])
@pytest.mark.parametrize("method", ["topk", "gumbel", "threshold"])
def test_same_random_state_is_bit_identical_in_process(cls, method):
    X, y = _data()
    params = {**PARAMS, "selection_method": method, "max_epochs": 2}
    a = _fingerprint(cls(**params).fit(X, y), X)
    torch.manual_seed(123)  # the global RNG state must not matter
    np.random.seed(5)  # noqa: NPY002 - the legacy global state must not matter either
    b = _fingerprint(cls(**params).fit(X, y), X)
    c = _fingerprint(cls(**{**params, "random_state": 8}).fit(X, y), X)
    assert a == b
    assert a["weights"] != c["weights"]


def test_fit_does_not_touch_the_global_rng():
    X, y = _data()
    torch.manual_seed(99)
    before = torch.get_rng_state().clone()
    np_before = np.random.get_state()[1].copy()  # noqa: NPY002
    InfluenceClassifier(**PARAMS).fit(X, y)
    assert torch.equal(torch.get_rng_state(), before)
    np.testing.assert_array_equal(np.random.get_state()[1], np_before)  # noqa: NPY002


def test_random_state_instance_and_none():
    X, y = _data()
    a = InfluenceClassifier(**{**PARAMS, "random_state": np.random.RandomState(3)}).fit(X, y)
    b = InfluenceClassifier(**{**PARAMS, "random_state": np.random.RandomState(3)}).fit(X, y)
    assert _fingerprint(a, X) == _fingerprint(b, X)
    c = InfluenceClassifier(**{**PARAMS, "random_state": None}).fit(X, y)
    assert np.isfinite(c.predict_proba(X)).all()


# ---------------------------------------------------------------------- batch size
@pytest.fixture(scope="module")
def long_model():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 2048, 3)).astype(np.float32)
    y = np.arange(6) % 2
    X[y == 1, 1000:1003, 1] += 3.0
    X[0, 1500:] = np.nan  # one shorter series (trailing padding)
    est = InfluenceClassifier(
        k=16, max_epochs=1, module__hidden_dim=8, module__num_heads=2, batch_size=4, random_state=0
    ).fit(X, y)
    return est, X


def test_inference_does_not_depend_on_the_batch_size(long_model):
    est, X = long_model
    ref = (est.predict_proba(X), est.influence_scores(X), est.select(X))
    for batch_size in (1, 64):
        est.set_params(batch_size=batch_size)
        try:
            got = (est.predict_proba(X), est.influence_scores(X), est.select(X))
        finally:
            est.set_params(batch_size=4)
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-4, atol=1e-9)
        np.testing.assert_array_equal(got[2], ref[2])
        assert not got[2][0, 1500:].any() and (got[1][0, 1500:] == 0).all()


def test_inference_chunks_by_number_of_steps(long_model, monkeypatch):
    """Long series are processed a few at a time; the result is the same."""
    est, X = long_model
    ref = est.influence_scores(X)
    monkeypatch.setattr(_explain, "INFERENCE_STEPS", 2048)  # one series per chunk
    np.testing.assert_allclose(est.influence_scores(X), ref, rtol=1e-4, atol=1e-9)


# ---------------------------------------------------------------------- GPU -> CPU
GPU_CHILD = textwrap.dedent(
    """
    import json, pickle, warnings
    import joblib, numpy as np, torch
    assert not torch.cuda.is_available()
    X = np.load({x_path!r})
    warnings.simplefilter("ignore")
    out = {{}}
    with open({pickle_path!r}, "rb") as f:
        out["pickle"] = pickle.load(f).predict_proba(X).tolist()
    out["joblib"] = joblib.load({joblib_path!r}).predict_proba(X).tolist()
    print("RESULT" + json.dumps(out))
    """
)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_model_fitted_on_gpu_loads_on_a_cpu_only_process(tmp_path):
    X, y = _data()
    est = InfluenceClassifier(**{**PARAMS, "device": "cuda"}).fit(X, y)
    assert next(est.net_.module_.parameters()).is_cuda
    proba = est.predict_proba(X)
    with open(tmp_path / "m.pkl", "wb") as f:
        pickle.dump(est, f)
    joblib.dump(est, tmp_path / "m.joblib")
    np.save(tmp_path / "X.npy", X)
    code = GPU_CHILD.format(
        x_path=str(tmp_path / "X.npy"),
        pickle_path=str(tmp_path / "m.pkl"),
        joblib_path=str(tmp_path / "m.joblib"),
    )
    out = _run_child(code, env={"CUDA_VISIBLE_DEVICES": ""})
    for key in ("pickle", "joblib"):
        np.testing.assert_allclose(np.asarray(out[key]), proba, atol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tsinfluence.persistence import load_model, save_model

        save_model(est, tmp_path / "m.tsinfluence")
        cpu = load_model(tmp_path / "m.tsinfluence", device="cpu")
    assert not next(cpu.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(cpu.predict_proba(X), proba, atol=1e-4)
