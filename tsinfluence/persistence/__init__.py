"""Save and load fitted estimators without pickle.

A model file is a zip archive holding two members:

- ``metadata.json``: the file format and its version, the tsinfluence and torch versions
  that wrote it, the estimator class, its hyper-parameters (``get_params()``), its fitted
  attributes (``classes_``, ``influence_scores_``, ...), its training history and any extra
  JSON metadata the caller adds (the command line stores how to read its data files);
- ``weights.pt``: the network's ``state_dict``, read back with
  ``torch.load(weights_only=True, map_location="cpu")``.

Loading never unpickles arbitrary objects: the JSON is plain data, the estimator class is
looked up in a fixed list, and ``weights_only=True`` restricts torch's loader to tensors and
containers. A model trained on a GPU loads on a CPU-only machine.

What cannot be stored this way is a user model (a custom ``predictor``: a
``torch.nn.Module``, a fitted scikit-learn estimator or a callable) or a custom
``selection_method`` module: rebuilding it needs its code. Such estimators are picklable
(``pickle``/``joblib``/``torch.save(est)``), but loading a pickle runs code chosen by whoever
wrote the file: only load those from a source you trust.
"""

from ._model_file import FORMAT_NAME, FORMAT_VERSION, load_model, read_model_metadata, save_model

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load_model", "read_model_metadata", "save_model"]
