import copy
import os

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback
from torch import nn

from tsinfluence import InfluenceClassifier, InfluenceRegressor

FAST = dict(max_epochs=2, module__hidden_dim=16, module__num_heads=2, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 16, 2))
    y = np.where(X[:, 5, 0] > 0, "up", "down")
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return InfluenceClassifier(k=4, **FAST).fit(X, y)


def test_classifier_outputs(fitted, data):
    X, y = data
    assert list(fitted.classes_) == ["down", "up"]
    assert fitted.n_features_in_ == 16 and fitted.n_channels_in_ == 2
    proba = fitted.predict_proba(X)
    assert proba.shape == (60, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert set(fitted.predict(X)) <= {"up", "down"}
    # predict is the argmax of predict_proba, and score is the accuracy of predict.
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[proba.argmax(axis=1)])
    assert fitted.score(X, y) == pytest.approx(np.mean(fitted.predict(X) == y))


def test_influence_select_and_global_scores(fitted, data):
    X, _ = data
    influence = fitted.influence_scores(X)
    assert influence.shape == (60, 16) and (influence >= 0).all() and (influence <= 1).all()
    np.testing.assert_allclose(influence.sum(1), 4.0, rtol=1e-6)  # k inclusion probabilities
    selected = fitted.select(X)
    assert selected.dtype == bool and (selected.sum(1) == 4).all()
    assert fitted.influence_scores_.shape == (16,)
    assert len(fitted.selected_timestamps_) == 4
    top = np.argsort(-fitted.influence_scores_)[:4]
    assert set(top) == set(fitted.selected_timestamps_)


def test_history_records_loss_components(fitted):
    history = fitted.history_
    assert len(history) == 2
    for key in ("train_loss", "train_task", "train_diversity", "train_mi", "train_budget", "phase"):
        assert key in history[-1]
    assert history[0, "phase"] == "evaluator" and history[-1, "phase"] == "selector"


def test_transform_global_per_sample_3d_and_names(data):
    X, y = data
    est = InfluenceClassifier(k=3, **FAST).fit(X, y)
    Xt = est.transform(X)
    assert Xt.shape == (60, 6)
    np.testing.assert_allclose(Xt, X[:, est.selected_timestamps_, :].reshape(60, -1), rtol=1e-6)
    names = est.get_feature_names_out()
    t0 = est.selected_timestamps_[0]
    assert list(names[:2]) == [f"t{t0}_c0", f"t{t0}_c1"]
    est.set_params(transform_shape="3d")
    assert est.transform(X).shape == (60, 3, 2)
    est.set_params(transform_shape="2d", transform_mode="per_sample")
    Xt = est.transform(X)
    assert Xt.shape == (60, 32)
    mask = est.select(X)
    np.testing.assert_allclose(Xt.reshape(60, 16, 2), X * mask[:, :, None], rtol=1e-6)
    assert len(est.get_feature_names_out()) == 32


def test_pandas_output_and_wide_dataframe_names():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(40, 8)), columns=[f"day{i}" for i in range(8)])
    y = (frame["day2"] > 0).astype(int)
    est = InfluenceClassifier(k=2, **FAST).set_output(transform="pandas")
    out = est.fit_transform(frame, y)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"day{t}" for t in est.selected_timestamps_]
    assert list(est.feature_names_in_) == list(frame.columns)


def test_univariate_2d_input(data):
    X, y = data
    est = InfluenceClassifier(k=0.25, **FAST).fit(X[:, :, 0], y)
    assert est.n_channels_in_ == 1
    assert est.select(X[:, :, 0]).sum(1).tolist() == [4] * 60
    with pytest.raises(ValueError, match="channels"):
        est.predict(X)


def test_regressor_outputs_in_target_units():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 10, 1))
    y = 1000.0 + 50.0 * X[:, 3, 0]
    reg = InfluenceRegressor(k=3, **FAST).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (50,) and pred.dtype == np.float64
    assert 800 < pred.mean() < 1200
    assert reg.target_mean_ == pytest.approx(y.mean())
    assert not hasattr(reg, "predict_proba")


def test_unequal_length_inputs_are_masked_end_to_end():
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(int(rng.integers(6, 13)), 2)) for _ in range(40)]
    y = np.array([int(s[:, 0].sum() > 0) for s in series])
    est = InfluenceClassifier(k=0.5, **FAST).fit(series, y)
    assert est.n_features_in_ == max(len(s) for s in series)
    lengths = np.array([len(s) for s in series])
    selected = est.select(series)
    influence = est.influence_scores(series)
    for i, length in enumerate(lengths):
        assert not selected[i, length:].any() and (influence[i, length:] == 0).all()
        assert selected[i].sum() == max(1, round(length * 0.5))
    # Trailing NaN padding and a long DataFrame give the same answers.
    padded = np.full((40, est.n_features_in_, 2), np.nan)
    for i, s in enumerate(series):
        padded[i, : len(s)] = s
    np.testing.assert_allclose(est.influence_scores(padded), influence, rtol=1e-6)
    long = pd.concat(
        [
            pd.DataFrame(s, columns=["a", "b"]).assign(id=i, t=np.arange(len(s)))
            for i, s in enumerate(series)
        ]
    ).set_index(["id", "t"])
    np.testing.assert_allclose(est.influence_scores(long), influence, rtol=1e-6)
    # Shorter (unequal-length) series at predict time are padded to the fitted length.
    assert est.predict([series[0][:5], series[1][:6], series[2][:4]]).shape == (3,)


def test_padded_steps_never_influence_a_prediction():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 8, 2))
    y = (X[:, 1, 0] > 0).astype(int)
    Xpad = np.concatenate([X, np.full((30, 4, 2), np.nan)], axis=1)
    est = InfluenceClassifier(k=2, **FAST).fit(Xpad, y)
    assert est.n_features_in_ == 12
    proba = est.predict_proba(Xpad)
    assert not est.select(Xpad)[:, 8:].any()
    assert (est.influence_scores(Xpad)[:, 8:] == 0).all()
    # The same series given unpadded (a list of unequal length) predict the same.
    ragged = [X[i, : 8 - (i % 2)] for i in range(30)]
    ragged_pad = Xpad.copy()
    ragged_pad[1::2, 7] = np.nan
    np.testing.assert_allclose(est.predict_proba(ragged), est.predict_proba(ragged_pad))
    assert proba.shape == (30, 2)


def test_random_state_gives_bit_identical_fits_without_touching_global_rng(data):
    X, y = data
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = InfluenceClassifier(k=4, selection_method="gumbel", module__dropout=0.2, **FAST).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = InfluenceClassifier(k=4, selection_method="gumbel", module__dropout=0.2, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.influence_scores(X), b.influence_scores(X))
    c = InfluenceClassifier(
        k=4, selection_method="gumbel", module__dropout=0.2, **{**FAST, "random_state": 1}
    ).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


@pytest.mark.parametrize("method", ["topk", "gumbel", "threshold"])
@pytest.mark.parametrize("predictor", ["attention", "mlp"])
def test_every_selection_method_and_predictor_trains(data, method, predictor):
    X, y = data
    est = InfluenceClassifier(k=4, selection_method=method, predictor=predictor, **FAST)
    est.fit(X, y)
    assert np.isfinite(est.predict_proba(X)).all()
    assert np.isfinite(est.history_[:, "train_loss"]).all()
    if method != "threshold":
        assert (est.select(X).sum(1) == 4).all()


def test_user_predictor_module_is_not_modified(data):
    X, y = data

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(32, 2)

        def forward(self, x):
            return self.fc(x.flatten(1))

    user = Net()
    before = {k: v.clone() for k, v in user.state_dict().items()}
    est = InfluenceClassifier(k=4, predictor=user, **FAST).fit(X, y)
    assert est.predict(X).shape == (60,)
    for k, v in user.state_dict().items():
        assert torch.equal(v, before[k])


def test_custom_selection_module(data):
    X, y = data

    class FirstSteps(nn.Module):
        def forward(self, scores):
            mask = torch.zeros_like(scores)
            mask[:, :3] = 1.0
            return mask + scores - scores.detach()

    est = InfluenceClassifier(selection_method=FirstSteps(), **FAST).fit(X, y)
    assert est.select(X)[:, :3].all() and not est.select(X)[:, 3:].any()


def test_early_stopping_in_memory_and_extra_callbacks(data, tmp_path, monkeypatch):
    from skorch.callbacks import EpochScoring

    X, y = data
    monkeypatch.chdir(tmp_path)
    cb = EpochScoring("accuracy", name="valid_acc", lower_is_better=False)
    est = InfluenceClassifier(
        k=4,
        early_stopping=True,
        early_stopping__patience=2,
        callbacks=[cb],
        **{**FAST, "max_epochs": 6},
    ).fit(X, y)
    assert "valid_loss" in est.history_[-1]
    # The extra callback scored every epoch.
    assert len(est.history_[:, "valid_acc"]) == len(est.history_)
    assert os.listdir(tmp_path) == []  # nothing written to the working directory
    assert est.callbacks == [cb] and not hasattr(cb, "best_score_")  # user object untouched


@pytest.mark.parametrize("optimizer", ["adamw", "sgd", torch.optim.RMSprop])
def test_optimizers(data, optimizer):
    X, y = data
    est = InfluenceClassifier(k=4, optimizer=optimizer, optimizer__weight_decay=1e-4, **FAST).fit(
        X, y
    )
    assert np.isfinite(est.predict_proba(X)).all()


def test_verbose_prints_progress(data, capsys):
    X, y = data
    InfluenceClassifier(k=4, verbose=1, **FAST).fit(X, y)
    out = capsys.readouterr().out
    assert "evaluator phase: epochs 1-1, train loss" in out
    assert "selector phase: epochs 2-2, train loss" in out and "train_loss" not in out
    InfluenceClassifier(k=4, verbose=2, **FAST).fit(X, y)
    assert "train_loss" in capsys.readouterr().out  # skorch's table of every epoch


def test_joint_training_scheme(data):
    X, y = data
    est = InfluenceClassifier(k=4, training_scheme="joint", **FAST).fit(X, y)
    assert set(est.history_[:, "phase"]) == {"joint"}


def test_counterfactual_method_exists_on_both(fitted):
    assert callable(fitted.counterfactual)
    assert callable(InfluenceRegressor().counterfactual)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"k": 0}, "k must be >= 1"),
        ({"k": 1.5}, r"k must be in \(0, 1\]"),
        ({"selection_method": "random"}, "selection_method must be one of"),
        ({"max_epochs": 0}, "max_epochs must be >= 1"),
        ({"lr": -1.0}, "lr must be > 0"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"device": "tpu:9"}, "device"),
        ({"predictor": "transformer"}, "predictor must be"),
        ({"scorer": "rnn"}, "scorer must be one of"),
        ({"module__hidden_dim": 10, "module__num_heads": 4}, "divisible"),
        ({"optimizer": "lbfgs2"}, "optimizer must be one of"),
        ({"training_scheme": "magic"}, "training_scheme must be one of"),
        ({"freeze_predictor": True}, "freeze_predictor=True"),
    ],
)
def test_bad_parameters_fail_at_fit_with_clear_messages(data, params, match):
    X, y = data
    with pytest.raises((ValueError, TypeError), match=match):
        InfluenceClassifier(**{**FAST, **params}).fit(X, y)


def test_single_class_and_missing_y(data):
    X, _ = data
    with pytest.raises(ValueError, match="only one class"):
        InfluenceClassifier(**FAST).fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="requires y"):
        InfluenceRegressor(**FAST).fit(X, None)


def test_custom_selection_without_gradient_gets_a_clear_error(data):
    X, y = data

    class NoGradient(nn.Module):
        def forward(self, scores):
            mask = torch.zeros_like(scores)
            mask[:, :2] = 1.0
            return mask

    with pytest.raises(ValueError, match="has no gradient"):
        InfluenceClassifier(selection_method=NoGradient(), **FAST).fit(X, y)


def test_fit_initialises_the_net_once(data, capsys):
    X, y = data
    InfluenceClassifier(k=4, verbose=1, **FAST).fit(X, y)
    assert "Re-initializing" not in capsys.readouterr().out


@pytest.mark.parametrize("cls", [InfluenceClassifier, InfluenceRegressor])
def test_parameters_are_keyword_only(cls):
    with pytest.raises(TypeError, match="positional"):
        cls(3)
    assert cls(k=3).k == 3


def test_component_settings_are_grouped_and_behave_like_parameters(data):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    from tsinfluence.estimators._params import GROUPED_PARAMETERS, GROUPS

    assert len(InfluenceClassifier().get_params()) <= 25
    assert {name.split("__")[0] for name in GROUPED_PARAMETERS} <= set(GROUPS)
    est = InfluenceClassifier(module__hidden_dim=8, optimizer__weight_decay=0.1)
    params = clone(est).get_params()
    assert params["module__hidden_dim"] == 8 and params["optimizer__weight_decay"] == 0.1
    assert "module__num_heads" not in params  # at its default, in one place
    est.set_params(module__num_heads=2, schedule__context_rate=0.0)
    assert est.get_params()["module__num_heads"] == 2
    assert "module__num_heads=2" in repr(est)
    # a former top-level name or a misspelt one: a clear error at fit (scikit-learn's rule:
    # __init__ and set_params never raise)
    X, y = data
    for params, match in [
        ({"hidden_dim": 8}, "no parameter 'hidden_dim': .* pass it as module__hidden_dim="),
        ({"modul__x": 1}, "no parameter 'modul__x': .*module__hidden_dim"),
        ({"module__width": 1}, "no parameter 'module__width'"),
    ]:
        with pytest.raises(ValueError, match=match):
            InfluenceClassifier(**FAST).set_params(**params).fit(X, y)
        with pytest.raises(ValueError, match=match):
            InfluenceClassifier(**FAST, **params).fit(X, y)
    # grid search and pipelines route them like any parameter
    grid = GridSearchCV(
        InfluenceClassifier(k=4, max_epochs=1, random_state=0),
        {"module__hidden_dim": [4, 8]},
        cv=2,
    ).fit(X, y)
    assert grid.best_params_["module__hidden_dim"] in (4, 8)
    assert grid.best_estimator_.net_.module_.selector.scorer.head.in_channels in (4, 8)
    pipe = Pipeline([("clf", InfluenceClassifier())]).set_params(clf__loss__alpha_mi=0.5)
    assert pipe.get_params()["clf__loss__alpha_mi"] == 0.5


def test_optimizer_settings_reach_the_optimizer(data):
    X, y = data
    est = InfluenceClassifier(
        k=4, optimizer="sgd", optimizer__momentum=0.5, **{**FAST, "max_epochs": 1}
    ).fit(X, y)
    group = est.net_.optimizer_.param_groups[0]
    assert group["momentum"] == 0.5 and group["weight_decay"] == 0.0
    with pytest.raises(
        ValueError, match="optimizer__betas is not an argument of the optimiser SGD"
    ):
        InfluenceClassifier(optimizer="sgd", optimizer__betas=(0.9, 0.9), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="set lr directly"):
        InfluenceClassifier(optimizer__lr=0.1, **FAST).fit(X, y)


def test_a_model_fitted_on_unequal_lengths_predicts_longer_series():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(int(n), 2)) for n in rng.integers(6, 11, size=30)]
    y = np.arange(30) % 2
    longer = [rng.normal(size=(13, 2)), rng.normal(size=(4, 2))]
    est = InfluenceClassifier(k=0.25, max_epochs=2, random_state=0).fit(X, y)
    assert est.variable_length_ and est.n_features_in_ == max(len(x) for x in X)
    assert est.predict(longer).shape == (2,)
    scores, mask = est.influence_scores(longer), est.select(longer)
    assert scores.shape == mask.shape == (2, 13)
    assert mask.sum(axis=1).tolist() == [3, 1]  # 25 % of each series' own length
    assert (scores[1, 4:] == 0).all() and not mask[1, 4:].any()
    # Learned positions have one embedding per fitted position: a clear refusal.
    learned = InfluenceClassifier(
        k=0.25,
        scorer="attention",
        module__positional_encoding="learned",
        max_epochs=1,
        random_state=0,
    ).fit(X, y)
    with pytest.raises(ValueError, match="13 timestamps, more than the 10 .*learned"):
        learned.predict(longer)
    # Equal-length training data keeps scikit-learn's fixed number of features.
    fixed = InfluenceClassifier(k=2, max_epochs=1, random_state=0).fit(
        rng.normal(size=(20, 8)), y[:20]
    )
    with pytest.raises(ValueError, match="8"):
        fixed.predict(rng.normal(size=(2, 9)))


def test_prediction_full_predicts_with_the_kept_teacher(data):
    X, y = data
    params = dict(k=4, **{**FAST, "max_epochs": 6})
    selected = InfluenceClassifier(**params).fit(X, y)
    full = InfluenceClassifier(prediction="full", **params).fit(X, y)
    module = full.net_.module_
    assert selected.net_.module_.teacher is None and module.teacher is not None
    # The teacher's logits on every step are what predict_proba decodes.
    with torch.no_grad():
        logits = module.teacher(torch.as_tensor(X, dtype=torch.float32), torch.ones(60, 16))[0]
    np.testing.assert_allclose(full.predict_proba(X), torch.softmax(logits, 1).numpy(), atol=1e-6)
    teacher_says, fidelity = full.predict(X), full.fidelity(X)
    # Training is the same: switched back, it is the default model, bit for bit.
    full.set_params(prediction="selected")
    np.testing.assert_array_equal(full.predict_proba(X), selected.predict_proba(X))
    np.testing.assert_array_equal(full.select(X), selected.select(X))
    # Fidelity: how often the predictor on the selected steps agrees with the teacher.
    assert fidelity == np.mean(full.predict(X) == teacher_says)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"prediction": "teacher"}, "prediction must be one of"),
        ({"prediction": "full", "training_scheme": "joint"}, "training_scheme='joint' has none"),
        ({"prediction": "full", "max_epochs": 1}, "too short"),
    ],
)
def test_prediction_full_needs_a_teacher(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        InfluenceClassifier(**{**FAST, **params}).fit(X, y)


def test_prediction_full_after_a_selected_fit_asks_for_a_refit(fitted, data):
    X, _ = data
    est = copy.deepcopy(fitted).set_params(prediction="full")
    with pytest.raises(ValueError, match="refit with prediction='full'"):
        est.predict(X)
    assert est.set_params(prediction="selected").predict(X).shape == (60,)


def test_regressor_prediction_full_is_in_target_units():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 12, 1))
    y = 100.0 + 5.0 * X[:, 3, 0]
    est = InfluenceRegressor(k=3, prediction="full", **{**FAST, "max_epochs": 6}).fit(X, y)
    pred = est.predict(X)
    assert pred.shape == (50,) and np.isfinite(pred).all() and 80 < pred.mean() < 120
    assert est.fidelity(X) <= 1.0


class _BatchTargets(Callback):
    """Records the encoded targets of every training batch."""

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.targets_.extend(np.asarray(batch[1]).tolist())

    def initialize(self):
        self.targets_ = []
        return self


@pytest.mark.parametrize(
    "class_weight, share_of_rare",
    [({"rare": 1.0, "common": 0.0}, (1.0, 1.0)), ("balanced", (0.35, 0.65)), (None, (0, 0.15))],
)
def test_class_weight_draws_training_batches_by_class(data, class_weight, share_of_rare):
    X, _ = data
    y = np.where(np.arange(len(X)) < 6, "rare", "common")  # 6 of 60
    recorder = _BatchTargets()
    est = InfluenceClassifier(k=4, class_weight=class_weight, callbacks=[recorder], **FAST)
    est.fit(X, y)
    targets = np.array(dict(est.net_.callbacks_)["_BatchTargets"].targets_)
    rare = int(np.flatnonzero(est.classes_ == "rare")[0])
    assert len(targets) == 2 * len(X)  # as many draws per epoch as series
    low, high = share_of_rare
    assert low <= np.mean(targets == rare) <= high
    if class_weight is None:
        assert est.net_.class_weights_ is None
        assert np.mean(targets == rare) == 0.1  # shuffled: each series once per epoch


def test_class_weight_resolves_like_scikit_learn(data):
    from sklearn.utils.class_weight import compute_class_weight

    X, y = data
    est = InfluenceClassifier(k=4, class_weight="balanced", **FAST).fit(X, y)
    expected = compute_class_weight("balanced", classes=est.classes_, y=y)
    np.testing.assert_allclose(est.class_weight_, expected)
    assert est.class_weight_[0] != est.class_weight_[1]  # the two classes are not balanced
    est = InfluenceClassifier(k=4, class_weight={"up": 3}, **FAST).fit(X, y)
    assert est.class_weight_.tolist() == [1.0, 3.0]  # ["down", "up"]; unnamed classes weigh 1
    assert InfluenceClassifier(k=4, **FAST).fit(X, y).class_weight_.tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({"sideways": 2.0}, r"not classes of y: \['sideways'\]"),
        ({"up": -1.0}, "finite weight >= 0"),
        ({"up": 0.0, "down": 0.0}, "some class a positive one"),
        ({"up": float("nan")}, "finite weight"),
        ({"up": "heavy"}, "finite weight"),
        ([1.0, 2.0], r"None, 'balanced' or a dict"),
        ("balance", r"None, 'balanced' or a dict"),
    ],
)
def test_bad_class_weight_is_refused_at_fit(data, class_weight, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        InfluenceClassifier(k=4, class_weight=class_weight, **FAST).fit(X, y)
