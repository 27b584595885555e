"""JSON encoding of the values a model file stores: hyper-parameters and fitted attributes.

Plain data only (numbers, strings, arrays, tuples, dicts, dtypes, torch optimizer classes by
name), so that reading a model file never unpickles.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from torch import nn


def _encode(value: Any, name: str) -> Any:
    """Encode a value as JSON-safe data; arrays keep their dtype."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if np.isfinite(value):
            return value
        return {"__float__": repr(value)}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"__dtype__": np.dtype(value).str}
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            values = [_encode(v, name) for v in value.ravel().tolist()]
            return {"__ndarray__": values, "dtype": "object", "shape": list(value.shape)}
        if value.dtype.kind not in "biufUS":
            raise _unstorable(name, value)
        data = value.tolist()
        if value.dtype.kind == "f":
            data = [_encode(v, name) for v in value.ravel().tolist()]
        elif value.dtype.kind == "S":
            data = [v.decode("latin-1") for v in value.ravel().tolist()]
        else:
            data = value.ravel().tolist()
        return {"__ndarray__": data, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, list | tuple):
        encoded = [_encode(v, name) for v in value]
        return encoded if isinstance(value, list) else {"__tuple__": encoded}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v, f"{name}[{k!r}]") for k, v in value.items()}}
    if isinstance(value, dict):  # other keys, e.g. the class labels of class_weight
        items = [[_encode(k, name), _encode(v, f"{name}[{k!r}]")] for k, v in value.items()]
        return {"__items__": items}
    raise _unstorable(name, value)


def _decode(value: Any) -> Any:
    """Inverse of :func:`_encode`."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__dtype__" in value:
        return np.dtype(value["__dtype__"])
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v) for k, v in value["__dict__"].items()}
    if "__items__" in value:
        return {_decode(k): _decode(v) for k, v in value["__items__"]}
    if "__ndarray__" in value:
        dtype = np.dtype(object if value["dtype"] == "object" else value["dtype"])
        data = [_decode(v) for v in value["__ndarray__"]]
        if dtype.kind == "S":
            data = [v.encode("latin-1") for v in data]
        out = np.empty(len(data), dtype=dtype)
        out[:] = data
        return out.reshape(value["shape"])
    raise ValueError(f"Unrecognised value in the model metadata: {value!r}.")


def _unstorable(name: str, value: Any) -> ValueError:
    return ValueError(
        f"Cannot store {name}={value!r} ({type(value).__name__}) in a tsinfluence model "
        "file, which holds only JSON data and tensors."
    )


def _encode_params(est) -> tuple[dict, list[str]]:
    """JSON-safe ``get_params()``; returns the encoded params and the names dropped."""
    params, dropped = {}, []
    for name, value in est.get_params(deep=False).items():
        if isinstance(value, nn.Module):
            raise ValueError(
                f"{name} is a user torch.nn.Module ({type(value).__name__}); save_model stores "
                "built-in components only, since rebuilding a user module needs its code. "
                "Pickle the estimator instead (pickle, joblib or torch.save), and only load "
                "such files from a source you trust: unpickling can run arbitrary code."
            )
        if name == "predictor" and not isinstance(value, str):
            raise ValueError(
                f"predictor is a user model ({type(value).__name__}); save_model stores "
                "built-in components only, since rebuilding a user model needs its code. "
                "Pickle the estimator instead (pickle, joblib or torch.save), and only load "
                "such files from a source you trust: unpickling can run arbitrary code."
            )
        if name == "optimizer" and isinstance(value, type):
            if getattr(torch.optim, value.__name__, None) is not value:
                raise ValueError(
                    f"optimizer={value!r} is not a torch.optim class; save_model can store a "
                    "name or a torch.optim optimizer class. Pickle the estimator instead "
                    "(only load pickles from a source you trust)."
                )
            params[name] = {"__torch_optim__": value.__name__}
            continue
        if name == "device" and isinstance(value, torch.device):
            params[name] = str(value)
            continue
        if name == "callbacks" and value:
            dropped.append(name)
            params[name] = None
            continue
        if name == "random_state" and isinstance(value, np.random.RandomState):
            dropped.append(name)
            params[name] = None
            continue
        params[name] = _encode(value, name)
    return params, dropped


def _decode_params(params: dict) -> dict:
    out = {}
    for name, value in params.items():
        if isinstance(value, dict) and "__torch_optim__" in value:
            cls = getattr(torch.optim, value["__torch_optim__"], None)
            if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
                raise ValueError(f"Unknown torch optimizer {value['__torch_optim__']!r}.")
            out[name] = cls
        else:
            out[name] = _decode(value)
    return out
