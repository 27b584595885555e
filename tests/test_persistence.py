"""Model files: a zip of JSON metadata and a weights-only state dict."""

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence.datasets import make_marked_sum, make_signal_event
from tsinfluence.nn import ConvHead
from tsinfluence.persistence import FORMAT_VERSION, load_model, read_model_metadata, save_model

SMALL = dict(module__hidden_dim=8, module__num_heads=2, max_epochs=2, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_signal_event(n_samples=48, n_timestamps=10, n_channels=2, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def clf(data):
    X, y = data
    labels = np.where(y == 1, "up", "down")  # string classes survive the round trip
    return InfluenceClassifier(k=3, **SMALL).fit(X, labels)


def _roundtrip(est, tmp_path, **kwargs):
    path = tmp_path / "model.pt"
    save_model(est, path, **kwargs)
    return load_model(path), path


def test_classifier_roundtrip_reproduces_outputs(clf, data, tmp_path):
    X, _ = data
    loaded, _ = _roundtrip(clf, tmp_path)
    assert type(loaded) is InfluenceClassifier
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-6)
    np.testing.assert_allclose(loaded.influence_scores(X), clf.influence_scores(X), atol=1e-6)
    np.testing.assert_array_equal(loaded.select(X), clf.select(X))
    np.testing.assert_array_equal(loaded.influence_scores_, clf.influence_scores_)
    np.testing.assert_array_equal(loaded.selected_timestamps_, clf.selected_timestamps_)
    assert loaded.n_features_in_ == clf.n_features_in_ == 10
    assert loaded.n_channels_in_ == clf.n_channels_in_ == 2
    assert loaded.get_params() == clf.get_params()
    # The per-epoch history comes back (the per-batch records are not stored).
    assert len(loaded.history_) == len(clf.history_)
    assert loaded.history_[:, "train_loss"] == pytest.approx(clf.history_[:, "train_loss"])
    assert loaded.history_[:, "phase"] == clf.history_[:, "phase"]


def test_a_kept_teacher_is_saved_and_predicts_after_loading(data, tmp_path):
    X, y = data
    est = InfluenceClassifier(k=3, prediction="full", **{**SMALL, "max_epochs": 6}).fit(X, y)
    loaded, _ = _roundtrip(est, tmp_path)
    assert loaded.net_.module_.teacher is not None
    np.testing.assert_allclose(loaded.predict_proba(X), est.predict_proba(X), atol=1e-6)
    assert loaded.fidelity(X) == est.fidelity(X)


def test_loaded_model_validates_input_like_the_original(clf, data, tmp_path):
    X, _ = data
    loaded, _ = _roundtrip(clf, tmp_path)
    with pytest.raises(ValueError, match="channels"):
        loaded.predict(X[:, :, :1])


def test_regressor_float64_roundtrip(tmp_path):
    X, y, _ = make_marked_sum(n_samples=40, n_timestamps=8, random_state=1)
    reg = InfluenceRegressor(k=2, precision="float64", **SMALL).fit(X, y)
    loaded, _ = _roundtrip(reg, tmp_path)
    assert loaded.target_mean_ == reg.target_mean_
    assert loaded.target_scale_ == reg.target_scale_
    assert next(loaded.net_.module_.parameters()).dtype == torch.float64
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_wide_dataframe_feature_names_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y, _ = make_signal_event(n_samples=40, n_timestamps=6, n_channels=1, random_state=2)
    frame = pd.DataFrame(X[:, :, 0], columns=[f"day{t}" for t in range(6)])
    clf = InfluenceClassifier(k=2, **SMALL).fit(frame, y)
    loaded, _ = _roundtrip(clf, tmp_path)
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    np.testing.assert_array_equal(loaded.get_feature_names_out(), clf.get_feature_names_out())
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))


def test_file_is_json_plus_weights_only_state_dict(clf, tmp_path):
    path = tmp_path / "model.tsi"
    save_model(clf, path, metadata={"note": "hello", "columns": ["a", "b"]})
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["metadata.json", "weights.pt"]
        info = json.loads(archive.read("metadata.json"))
        state = torch.load(io.BytesIO(archive.read("weights.pt")), weights_only=True)
    assert info["format_version"] == FORMAT_VERSION
    assert info["estimator"] == "InfluenceClassifier"
    assert set(state) == set(clf.net_.module_.state_dict())
    meta = read_model_metadata(path)
    assert meta["extra"] == {"note": "hello", "columns": ["a", "b"]}
    assert meta["params"]["k"] == 3


def _rewrite_metadata(path, out, change, change_weights=None):
    with zipfile.ZipFile(path) as archive:
        info = json.loads(archive.read("metadata.json"))
        weights = archive.read("weights.pt")
    change(info)
    if change_weights is not None:
        state = torch.load(io.BytesIO(weights), weights_only=True)
        buffer = io.BytesIO()
        torch.save(change_weights(state), buffer)
        weights = buffer.getvalue()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("metadata.json", json.dumps(info))
        archive.writestr("weights.pt", weights)


def test_other_format_version_is_refused(clf, tmp_path):
    path = tmp_path / "model.pt"
    save_model(clf, path)
    future = tmp_path / "future.pt"
    _rewrite_metadata(path, future, lambda info: info.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(
        ValueError,
        match=rf"format version {FORMAT_VERSION + 1} .*reads version {FORMAT_VERSION}",
    ):
        load_model(future)
    with pytest.raises(ValueError, match="format version"):
        read_model_metadata(future)


@pytest.fixture(scope="module")
def attention_clf(data):
    """A classifier whose predictor did not change in format 4 (older files of it load)."""
    X, y = data
    return InfluenceClassifier(k=3, predictor="attention", **SMALL).fit(X, y)


def test_a_version_3_file_of_an_unchanged_predictor_loads(attention_clf, tmp_path):
    clf = attention_clf
    path = tmp_path / "model.pt"
    save_model(clf, path)
    old = tmp_path / "v3.pt"
    _rewrite_metadata(path, old, lambda info: info.update(format_version=3))
    X = np.random.default_rng(0).normal(size=(4, clf.n_features_in_, clf.n_channels_in_))
    np.testing.assert_array_equal(load_model(old).predict(X), clf.predict(X))


def test_a_version_2_file_loads_with_its_component_settings_renamed(attention_clf, tmp_path):
    clf = attention_clf
    path = tmp_path / "model.pt"
    save_model(clf, path)
    old = tmp_path / "v2.pt"

    def as_version_2(info):
        info["format_version"] = 2
        info["params"] = {n.split("__", 1)[-1]: v for n, v in info["params"].items()}

    _rewrite_metadata(path, old, as_version_2)
    loaded = load_model(old)
    assert loaded.get_params()["module__hidden_dim"] == clf.get_params()["module__hidden_dim"]
    X = np.random.default_rng(0).normal(size=(4, clf.n_features_in_, clf.n_channels_in_))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_a_version_4_file_loads_without_compression(clf, data, tmp_path):
    """Written before ``scaling``: no compression buffers, no parameter; it standardised."""
    path = tmp_path / "model.pt"
    save_model(clf, path)
    old = tmp_path / "v4.pt"

    def as_version_4(info):
        info["format_version"] = 4
        del info["params"]["scaling"]

    def without_compression(state):
        dropped = [n for n in state if n.endswith((".center", ".spread"))]
        assert dropped  # the scorer's and the predictor's scalers
        return {n: v for n, v in state.items() if n not in dropped}

    _rewrite_metadata(path, old, as_version_4, without_compression)
    loaded = load_model(old)
    assert loaded.get_params()["scaling"] == "standard"
    X, _ = data
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_influence_temperature_round_trips_and_defaults_to_1_in_older_files(data, tmp_path):
    X, y = data
    est = InfluenceClassifier(k=3, **{**SMALL, "max_epochs": 12}).fit(X, y)
    scale = est.net_.module_.influence_temperature_scale
    assert scale < 1.0  # the selector phase annealed its sampling temperature
    loaded, path = _roundtrip(est, tmp_path)
    assert loaded.net_.module_.influence_temperature_scale == scale
    np.testing.assert_allclose(loaded.influence_scores(X), est.influence_scores(X), atol=1e-6)
    older = tmp_path / "older.pt"
    _rewrite_metadata(path, older, lambda info: info.pop("influence_temperature_scale"))
    older_est = load_model(older)
    assert older_est.net_.module_.influence_temperature_scale == 1.0
    np.testing.assert_array_equal(older_est.select(X), est.select(X))  # only scores change


def test_a_version_5_file_loads_without_the_coarse_blocks(data, tmp_path):
    """Written before the coarse copy of the blocks: it loads as the network it was."""
    X, y = data
    est = InfluenceClassifier(k=3, **SMALL).fit(X, y)
    for head in (m for m in est.net_.module_.modules() if isinstance(m, ConvHead)):
        head.coarse_factor = head.coarse_blocks = None  # the network of format 5
        head.out[0] = torch.nn.Linear(head.hidden_dim, head.hidden_dim)
    path = tmp_path / "model.pt"
    save_model(est, path)
    old = tmp_path / "v5.pt"
    _rewrite_metadata(path, old, lambda info: info.update(format_version=5))
    loaded = load_model(old)
    head = loaded.net_.module_.predictor
    assert isinstance(head, ConvHead) and head.coarse_blocks is None
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("version", [2, 3])
def test_an_older_file_of_the_convolutional_predictor_is_refused(clf, tmp_path, version):
    # Its weights have the shapes of today's network but were trained undilated.
    path = tmp_path / "model.pt"
    save_model(clf, path)
    old = tmp_path / "old.pt"
    _rewrite_metadata(path, old, lambda info: info.update(format_version=version))
    with pytest.raises(
        ValueError, match=rf"convolutional predictor of model format version {version}"
    ):
        load_model(old)


def test_weights_of_another_architecture_are_refused_clearly(clf, tmp_path):
    path = tmp_path / "model.pt"
    save_model(clf, path)
    other = tmp_path / "other.pt"
    _rewrite_metadata(path, other, lambda info: info["params"].update(module__hidden_dim=6))
    with pytest.raises(ValueError, match="do not fit the network.*written by tsinfluence"):
        load_model(other)


def test_unknown_parameter_or_estimator_is_refused(clf, tmp_path):
    path = tmp_path / "model.pt"
    save_model(clf, path)
    odd = tmp_path / "odd.pt"
    _rewrite_metadata(path, odd, lambda info: info["params"].update(no_such_param=1))
    with pytest.raises(ValueError, match="no_such_param"):
        load_model(odd)
    _rewrite_metadata(path, odd, lambda info: info.update(estimator="os.system"))
    with pytest.raises(ValueError, match="Unknown estimator 'os.system'"):
        load_model(odd)


def test_model_saved_for_cuda_loads_on_cpu(clf, data, tmp_path):
    X, _ = data
    path = tmp_path / "model.pt"
    save_model(clf, path)
    cuda = tmp_path / "cuda.pt"
    _rewrite_metadata(path, cuda, lambda info: info["params"].update(device="cuda"))
    loaded = load_model(cuda)
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_model_trained_on_cuda_loads_on_cpu(data, tmp_path):
    X, y = data
    gpu = InfluenceClassifier(k=3, device="cuda", **SMALL).fit(X, y)
    path = tmp_path / "model.pt"
    save_model(gpu, path)
    loaded = load_model(path)
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X), gpu.predict_proba(X), atol=1e-5)
    back = load_model(path, device="cuda")
    assert next(back.net_.module_.parameters()).device.type == "cuda"


def test_not_a_model_file(tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a tsinfluence model file"):
        load_model(bogus)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(ValueError, match="not a tsinfluence model file"):
        load_model(other_zip)
    with pytest.raises(FileNotFoundError, match="No such model file"):
        load_model(tmp_path / "missing.pt")


def test_save_refuses_unfitted_and_foreign_estimators(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        save_model(InfluenceClassifier(), tmp_path / "m.pt")
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="InfluenceClassifier or InfluenceRegressor"):
        save_model(LogisticRegression(), tmp_path / "m.pt")


def test_user_module_predictor_needs_pickle(data, tmp_path):
    X, y = data
    predictor = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(20, 2))
    clf = InfluenceClassifier(k=3, predictor=predictor, **SMALL).fit(X, y)
    with pytest.raises(ValueError, match="user torch.nn.Module.*trust"):
        save_model(clf, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


def test_training_only_settings_are_dropped_with_a_warning(data, tmp_path):
    X, y = data

    class Noop(Callback):
        pass

    clf = InfluenceClassifier(k=3, callbacks=[Noop()], optimizer=torch.optim.AdamW, **SMALL)
    clf.fit(X, y)
    with pytest.warns(UserWarning, match="callbacks"):
        loaded, _ = _roundtrip(clf, tmp_path)
    assert loaded.callbacks is None
    assert loaded.optimizer is torch.optim.AdamW
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_class_weight_with_label_keys_round_trips(data, tmp_path):
    X, y = data
    est = InfluenceClassifier(k=3, class_weight={0: 1.0, 1: 4.0}, **SMALL).fit(X, y)
    loaded, path = _roundtrip(est, tmp_path)
    assert loaded.get_params()["class_weight"] == {0: 1.0, 1: 4.0}
    np.testing.assert_array_equal(loaded.class_weight_, [1.0, 4.0])
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    # A file written before class_weight existed loads with every class weighing 1.
    old = tmp_path / "old.pt"

    def before_class_weight(info):
        del info["params"]["class_weight"], info["fitted"]["class_weight_"]

    _rewrite_metadata(path, old, before_class_weight)
    loaded = load_model(old)
    assert loaded.class_weight is None
    np.testing.assert_array_equal(loaded.class_weight_, [1.0, 1.0])
