"""Writing and reading model files: ``save_model``, ``read_model_metadata``, ``load_model``."""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile

import numpy as np
import torch
from skorch.history import History

from .._version import __version__
from ..estimators import InfluenceClassifier, InfluenceRegressor
from ..estimators._fitted import FittedModel
from ..estimators._params import GROUPED_PARAMETERS, grouped_name_problem
from ._codec import _decode, _decode_params, _encode, _encode_params

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load_model", "read_model_metadata", "save_model"]

#: Identifies a tsinfluence model file.
FORMAT_NAME = "tsinfluence-model"
#: Version of the file layout; a file of another version is refused with a clear error.
#: 2: the ``scorer`` parameter and the convolutional defaults (tsinfluence 0.2).
#: 3: component settings grouped as ``<group>__<name>`` (a version 2 file's names are
#: translated; its weights must still fit the installed network).
#: 4: the convolutional predictor (``predictor="cnn"``) has dilated blocks and a finer
#: resolution on long series: version 2 and 3 files of such a model hold weights of the same
#: shapes that compute something else, so they are refused; the other predictors load.
#: 5: the ``scaling`` parameter (heavy-tailed channels compressed before standardisation);
#: files of versions 2-4 load with ``scaling="standard"``, which is how they were trained.
#: 6: the convolutional predictor has a coarse copy of its blocks
#: (:data:`~tsinfluence.nn.conv.COARSE_FACTOR`); files of versions 4-5 hold the network
#: without it, and :class:`~tsinfluence.nn.ConvHead` loads them as that network.
FORMAT_VERSION = 6

#: Older versions that still load (see :func:`_read` for what each needs).
_OLDER_READABLE = (2, 3, 4, 5)

#: Version 2 files named the component settings without their group (``hidden_dim``); they
#: load with these names translated.
_RENAMED_IN_3 = {name.split("__", 1)[1]: name for name in GROUPED_PARAMETERS}

_METADATA = "metadata.json"
_WEIGHTS = "weights.pt"
# Fitted attributes that are rebuilt from the file rather than stored as values.
_REBUILT = ("net_", "history_")


def _estimator_classes() -> dict[str, type]:
    return {cls.__name__: cls for cls in (InfluenceClassifier, InfluenceRegressor)}


def save_model(est, path, *, metadata: dict | None = None) -> None:
    """Save a fitted :class:`~tsinfluence.InfluenceClassifier` or ``InfluenceRegressor``.

    The file is a zip archive of a JSON description (format version, versions, estimator
    class, hyper-parameters, fitted attributes, history) and the network's ``state_dict``;
    no pickle is involved, so :func:`load_model` cannot run code from the file. Any file
    name works, e.g. ``model.pt`` or ``model.tsi``.

    Parameters
    ----------
    est : InfluenceClassifier or InfluenceRegressor
        A fitted estimator with built-in components (a user ``torch.nn.Module`` as
        ``predictor`` or ``selection_method`` cannot be stored: pickle such an estimator).
    path : str, path-like or binary file object
        Where to write.
    metadata : dict, optional
        Extra JSON-serialisable information stored with the model and returned by
        :func:`read_model_metadata` under ``"extra"``.

    Raises
    ------
    TypeError
        If ``est`` is not a tsinfluence estimator.
    ValueError
        If ``est`` is not fitted, or holds something that cannot be stored safely.

    Warns
    -----
    UserWarning
        When ``callbacks`` or a ``RandomState`` instance as ``random_state`` are dropped
        (both only matter for training; the loaded model has them as ``None``).

    Examples
    --------
    >>> from tsinfluence import InfluenceClassifier
    >>> from tsinfluence.datasets import make_signal_event
    >>> from tsinfluence.persistence import load_model, save_model
    >>> X, y, _ = make_signal_event(n_samples=40, n_timestamps=10, random_state=0)
    >>> clf = InfluenceClassifier(k=2, max_epochs=1, module__hidden_dim=8, random_state=0).fit(X, y)
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> save_model(clf, path)
    >>> bool((load_model(path).predict(X) == clf.predict(X)).all())
    True
    """
    classes = _estimator_classes()
    if type(est).__name__ not in classes or not isinstance(est, classes[type(est).__name__]):
        raise TypeError(
            "save_model expects a tsinfluence InfluenceClassifier or InfluenceRegressor, got "
            f"{type(est).__name__}."
        )
    if not hasattr(est, "net_"):
        raise ValueError(
            f"This {type(est).__name__} instance is not fitted yet; call 'fit' before saving."
        )
    params, dropped = _encode_params(est)
    if dropped:
        warnings.warn(
            f"save_model does not store {dropped} (training-only settings that are not plain "
            "data); the loaded estimator has them set to None.",
            UserWarning,
            stacklevel=2,
        )
    fitted = {}
    for name, value in vars(est).items():
        # Fitted state ends in "_" (public, or private like "_np_dtype_"); the rest are params.
        if name in _REBUILT or not name.endswith("_") or name.startswith("__"):
            continue
        fitted[name] = _encode(value, name)
    module = est._fitted_model().module
    history = [_strip_batches(row) for row in est.history_]
    info = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "tsinfluence_version": __version__,
        "torch_version": torch.__version__,
        "estimator": type(est).__name__,
        "params": params,
        "fitted": fitted,
        "module_phase": getattr(module, "phase", None),
        "influence_temperature_scale": getattr(module, "influence_temperature_scale", 1.0),
        "history": _encode(history, "history_"),
        "extra": _encode(metadata or {}, "metadata"),
    }
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    weights = io.BytesIO()
    torch.save(state, weights)
    target = os.fspath(path) if isinstance(path, str | os.PathLike) else path
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_METADATA, json.dumps(info, indent=1, allow_nan=False))
        archive.writestr(_WEIGHTS, weights.getvalue())


def _strip_batches(row: dict) -> dict:
    """A history row without its per-batch records (the per-epoch means are kept)."""
    return {k: v for k, v in row.items() if k != "batches"}


def read_model_metadata(path) -> dict:
    """Read the JSON description of a model file without loading the network.

    Parameters
    ----------
    path : str, path-like or binary file object

    Returns
    -------
    dict
        Keys ``format``, ``format_version``, ``tsinfluence_version``, ``torch_version``,
        ``estimator``, ``params``, ``fitted``, ``module_phase``,
        ``influence_temperature_scale`` (absent from files written before tsinfluence
        stored it), ``history`` and ``extra`` (the caller's ``metadata``, decoded).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a tsinfluence model file, or has another format version.
    """
    info, _ = _read(path, weights=False)
    info = dict(info)
    info["extra"] = _decode(info.get("extra", {}))
    return info


def _read(path, weights: bool):
    if isinstance(path, str | os.PathLike):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such model file: {path!r}.")
        where = repr(path)
    else:
        where = "the given file object"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if _METADATA not in names or _WEIGHTS not in names:
                raise ValueError(
                    f"{where} is not a tsinfluence model file (no {_METADATA}/{_WEIGHTS})."
                )
            info = json.loads(archive.read(_METADATA).decode("utf-8"))
            blob = archive.read(_WEIGHTS) if weights else None
    except zipfile.BadZipFile as exc:
        raise ValueError(
            f"{where} is not a tsinfluence model file (written by tsinfluence.save_model)."
        ) from exc
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise ValueError(f"{where} is not a tsinfluence model file.")
    version = info.get("format_version")
    if version == 2:  # the same layout with the component settings at the top level
        info["params"] = {_RENAMED_IN_3.get(n, n): v for n, v in info["params"].items()}
    if version in (2, 3) and info["params"].get("predictor") == "cnn":
        raise ValueError(
            f"{where} holds a convolutional predictor of model format version {version} "
            f"(tsinfluence {info.get('tsinfluence_version')}), whose network differs from this "
            f"tsinfluence {__version__}'s (dilated blocks): its weights would load but predict "
            "differently. Load it with the tsinfluence version that wrote it, or refit."
        )
    if version in (2, 3, 4):  # trained before compression existed
        info["params"].setdefault("scaling", "standard")
    if version not in (*_OLDER_READABLE, FORMAT_VERSION):
        raise ValueError(
            f"{where} has model format version {version!r} (written by tsinfluence "
            f"{info.get('tsinfluence_version')}); this tsinfluence {__version__} reads version "
            f"{FORMAT_VERSION}. Load it with the tsinfluence version that wrote it and refit, "
            "or save it again."
        )
    return info, blob


def load_model(path, *, device="cpu"):
    """Load an estimator written by :func:`save_model`.

    Parameters
    ----------
    path : str, path-like or binary file object
        The model file.
    device : str or torch.device, default="cpu"
        Where the loaded network lives; the estimator's ``device`` parameter is set to it
        (a model trained on ``"cuda"`` loads on a CPU-only machine by default).

    Returns
    -------
    InfluenceClassifier or InfluenceRegressor
        Fitted: predictions, influence scores and selections equal the saved model's.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a tsinfluence model file, has another format version, names an
        unknown estimator or parameter, or its weights do not fit the described network.
    """
    info, blob = _read(path, weights=True)
    classes = _estimator_classes()
    name = info.get("estimator")
    if name not in classes:
        raise ValueError(
            f"Unknown estimator {name!r} in the model file; expected one of {sorted(classes)}."
        )
    params = _decode_params(info["params"])
    est = classes[name]()
    valid = est.get_params(deep=False)
    unknown = sorted(n for n in params if n not in valid and grouped_name_problem(n))
    if unknown:
        raise ValueError(
            f"The model file sets parameters {unknown} unknown to {name} in tsinfluence "
            f"{__version__} (file written by {info.get('tsinfluence_version')})."
        )
    params["device"] = str(device)
    est.set_params(**params)
    for attr, value in info["fitted"].items():
        setattr(est, attr, _decode(value))
    if hasattr(est, "classes_") and "class_weight_" not in info["fitted"]:
        est.class_weight_ = np.ones(len(est.classes_))  # written before class_weight
    state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    history = History(_decode(info.get("history", [])))
    try:
        FittedModel.restore(
            est,
            state,
            info.get("module_phase"),
            history,
            # Files written before it was stored computed influence at the temperature itself.
            influence_temperature_scale=info.get("influence_temperature_scale", 1.0),
        )
    except ValueError as exc:
        raise ValueError(
            f"{exc} The file was written by tsinfluence {info.get('tsinfluence_version')} "
            f"(this is {__version__}); refit the model, or load it with the version that "
            "wrote it."
        ) from exc
    return est
