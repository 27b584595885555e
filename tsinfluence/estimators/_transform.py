"""Timestamp selection as a scikit-learn transformer: output values and column names."""

from __future__ import annotations

import numpy as np

# Private, but the one place that resolves set_output against sklearn.set_config.
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

__all__ = ["apply_transform", "feature_names_out"]


def apply_transform(est, X) -> np.ndarray:
    """The influential timestamps of ``X`` as selected by the fitted ``est``.

    Parameters
    ----------
    est : InfluenceBase
        A fitted estimator; ``transform_mode`` and ``transform_shape`` decide the output.
    X : array-like of shape (n_samples, n_timestamps[, n_channels])
        Series to transform (validated by ``est``).

    Returns
    -------
    ndarray
        2D ``(n_samples, n_steps * n_channels)`` or 3D ``(n_samples, n_steps, n_channels)``.
        ``est.transform`` wraps the 2D array in the container chosen by ``set_output``.

    Raises
    ------
    ValueError
        For 3D output when ``set_output`` (or ``sklearn.set_config``) asks for a container
        other than ``"default"``: a DataFrame is 2D, and returning an ndarray instead would
        silently ignore the setting.
    """
    container = _get_output_config("transform", est)["dense"]
    if est.transform_shape == "3d" and container != "default":
        raise ValueError(
            f'set_output(transform="{container}") needs 2D output, but '
            'transform_shape="3d" gives (n_samples, n_steps, n_channels) arrays. Use '
            'transform_shape="2d" (columns named by get_feature_names_out) or '
            'set_output(transform="default").'
        )
    X, padding_mask = est._validate_X(X)
    if est.transform_mode == "global":
        out = X[:, est.selected_timestamps_, :]
    else:
        mask = est._forward(X, padding_mask)[1]
        out = X * mask[:, :, None]
    if est.transform_shape == "3d":
        return out
    return out.reshape(len(out), -1)


def feature_names_out(est, input_features=None) -> np.ndarray:
    """Names of the columns of the 2D output of :func:`apply_transform`.

    Parameters
    ----------
    est : InfluenceBase
        A fitted estimator.
    input_features : array-like of str, optional
        One name per timestamp, replacing ``feature_names_in_`` / ``t<index>``.

    Returns
    -------
    ndarray of str objects
    """
    check_is_fitted(est)
    if hasattr(est, "feature_names_in_"):
        times = np.asarray(est.feature_names_in_, dtype=object)
    else:
        times = np.array([f"t{t}" for t in range(est.n_features_in_)], dtype=object)
    if input_features is not None and len(input_features) != est.n_features_in_:
        raise ValueError(
            f"input_features has {len(input_features)} names; expected "
            f"{est.n_features_in_} (one per timestamp)."
        )
    if input_features is not None:
        times = np.asarray(input_features, dtype=object)
    steps = (
        est.selected_timestamps_
        if est.transform_mode == "global"
        else np.arange(est.n_features_in_)
    )
    if est.n_channels_in_ == 1:
        return np.asarray([str(times[t]) for t in steps], dtype=object)
    return np.asarray(
        [f"{times[t]}_c{d}" for t in steps for d in range(est.n_channels_in_)], dtype=object
    )
