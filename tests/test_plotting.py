"""Plots render with the Agg backend and draw what they are given."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tsinfluence import InfluenceClassifier  # noqa: E402
from tsinfluence.datasets import make_signal_event  # noqa: E402
from tsinfluence.plotting import (  # noqa: E402
    plot_counterfactual,
    plot_history,
    plot_influence,
    plot_influence_summary,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted():
    X, y, truth = make_signal_event(n_samples=40, n_timestamps=8, n_channels=2, random_state=0)
    est = InfluenceClassifier(
        k=2, module__hidden_dim=8, module__num_heads=2, max_epochs=3, batch_size=20, random_state=0
    ).fit(X, y)
    return est, X, truth


def _legend_labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_plot_influence_draws_series_overlay_selection_and_truth():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(12, 2))
    influence = np.linspace(0.0, 0.2, 12)
    truth = np.zeros(12, bool)
    truth[[2, 3, 4, 9]] = True
    ax = plot_influence(
        series, influence, selected=[3, 4, 9], truth=truth, times=range(100, 112), title="s0"
    )
    assert [line.get_label() for line in ax.lines] == ["channel 0", "channel 1"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), series[:, 1])
    np.testing.assert_allclose(ax.images[0].get_array().ravel(), influence)
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_array_equal(np.asarray(offsets)[:, 0], [3, 4, 9])
    # Two runs of truth -> two hatched spans covering steps 2..4 and 9.
    spans = [p for p in ax.patches if p.get_hatch() == "//"]
    extents = sorted((round(p.get_x(), 2), round(p.get_x() + p.get_width(), 2)) for p in spans)
    assert extents == [(1.5, 4.5), (8.5, 9.5)]
    assert {"selected", "ground truth", "channel 0"} <= set(_legend_labels(ax))
    assert len(ax.figure.axes) == 2  # the colour bar
    assert ax.get_title() == "s0"
    assert ax.get_xticklabels()[0].get_text() == "100"


def test_plot_influence_uses_given_axes_and_padding():
    fig, ax = plt.subplots()
    series = np.array([1.0, 2.0, 3.0, np.nan, np.nan])
    out = plot_influence(series, [0.2, 0.5, 0.3, 0.0, 0.0], ax=ax, colorbar=False)
    assert out is ax
    assert len(fig.axes) == 1
    assert np.isnan(ax.lines[0].get_ydata()[-1])
    assert ax.get_ylim()[0] < 1.0 and ax.get_ylim()[1] > 3.0


def test_plot_influence_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"influence must have shape \(5,\)"):
        plot_influence(np.zeros(5), np.zeros(4))
    with pytest.raises(ValueError, match=r"Pass X\[i\]"):
        plot_influence(np.zeros((2, 5, 1)), np.zeros(5))
    with pytest.raises(ValueError, match="outside 0..4"):
        plot_influence(np.zeros(5), np.zeros(5), selected=[7])
    with pytest.raises(ValueError, match="times must have 5 labels"):
        plot_influence(np.zeros(5), np.zeros(5), times=[1, 2])


def test_plot_counterfactual_lines_and_edited_spans():
    x = np.zeros((10, 2))
    cf = x.copy()
    cf[2:4, 0] = 1.5
    cf[7, 1] = -1.0
    ax = plot_counterfactual(x, cf, channel_names=["a", "b"])
    assert len(ax.lines) == 4
    assert [line.get_linestyle() for line in ax.lines] == ["-", "--", "-", "--"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), cf[:, 0])
    # Edited steps inferred from the changed values: runs 2..3 and 7.
    extents = sorted((round(p.get_x(), 2), round(p.get_x() + p.get_width(), 2)) for p in ax.patches)
    assert extents == [(1.5, 3.5), (6.5, 7.5)]
    assert "edited steps" in _legend_labels(ax)
    assert "a (counterfactual)" in _legend_labels(ax)
    explicit = plot_counterfactual(x, cf, edited=np.arange(10) < 5)
    assert len(explicit.patches) == 1
    assert explicit.patches[0].get_width() == pytest.approx(5.0)


def test_plot_counterfactual_shape_mismatch():
    with pytest.raises(ValueError, match="expected the shape of original"):
        plot_counterfactual(np.zeros((5, 2)), np.zeros((5, 1)))


def test_plot_influence_summary_from_array():
    scores = np.array([0.1, 0.4, 0.05, 0.3, 0.15])
    ax = plot_influence_summary(scores, selected=[1, 3], truth=[1], times=list("abcde"))
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, scores)
    red = matplotlib.colors.to_rgba("tab:red")
    assert [p.get_facecolor() == red for p in ax.patches] == [False, True, False, True, False]
    assert [p.get_hatch() for p in ax.patches] == [None, "//", None, None, None]
    assert _legend_labels(ax) == ["selected", "truth"]
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcde")


def test_plot_influence_summary_and_history_from_estimator(fitted):
    est, _, _ = fitted
    ax = plot_influence_summary(est)
    np.testing.assert_allclose([p.get_height() for p in ax.patches], est.influence_scores_)
    red = matplotlib.colors.to_rgba("tab:red")
    chosen = [i for i, p in enumerate(ax.patches) if p.get_facecolor() == red]
    assert chosen == list(est.selected_timestamps_)

    ax = plot_history(est, log=True)
    labels = [line.get_label() for line in ax.lines]
    assert labels[0] == "train_loss" and "train_task" in labels
    # Disabled terms (all zero) are left out by default.
    assert "train_diversity" not in labels and "train_mi" not in labels
    np.testing.assert_allclose(ax.lines[0].get_ydata(), est.history_[:, "train_loss"])
    phases = est.history_[:, "phase"]
    runs = 1 + sum(a != b for a, b in zip(phases, phases[1:]))
    assert [t.get_text() for t in ax.texts] == list(dict.fromkeys(phases))
    assert len(ax.patches) == runs
    assert ax.get_yscale() == "log"


def test_plot_history_from_records_and_components():
    rows = [
        {"epoch": 1, "train_loss": 1.0, "train_task": 0.9, "train_mi": 0.0, "phase": "evaluator"},
        {"epoch": 2, "train_loss": 0.8, "train_task": 0.7, "train_mi": 0.0, "phase": "evaluator"},
        {"epoch": 3, "train_loss": 0.6, "train_task": 0.5, "train_mi": 0.0, "phase": "selector"},
    ]
    ax = plot_history(rows, components=["train_task", "train_mi"])
    assert [line.get_label() for line in ax.lines] == ["train_task", "train_mi"]
    assert [t.get_text() for t in ax.texts] == ["evaluator", "selector"]
    spans = sorted((round(p.get_x(), 2), round(p.get_width(), 2)) for p in ax.patches)
    assert spans == [(0.5, 2.0), (2.5, 1.0)]
    with pytest.raises(ValueError, match="not recorded"):
        plot_history(rows, components=["valid_loss"])
    with pytest.raises(ValueError, match="non-empty"):
        plot_history([])


def test_unfitted_estimator_is_a_clear_error():
    with pytest.raises(ValueError, match="not fitted"):
        plot_influence_summary(InfluenceClassifier())
    with pytest.raises(ValueError, match="not fitted"):
        plot_history(InfluenceClassifier())


def test_missing_matplotlib_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'tsinfluence\[plot\]'"):
        plot_influence(np.zeros(3), np.zeros(3))
