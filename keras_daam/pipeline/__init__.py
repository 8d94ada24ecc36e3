"""A user's files to features, trained heads, predictions and explanations.

What the `keras-daam` commands run, as functions with plain arguments:

- `extract`: `extract_files` = `load_extractor`, `read_data` (via
  `keras_daam.data`), `extract_dataset` (into a `keras_daam.features`
  cache).
- `train`: `train_on_cache` (the `keras_daam.evaluation` protocol; each
  head saved as a self-describing head folder).
- `predict`: `predict_to_csv` (a saved head on raw files).
- `explain`: `explain_cache` (Importance Factor of a saved DAAM head).
"""

from keras_daam.pipeline.explain import explain_cache
from keras_daam.pipeline.extract import detect_modality
from keras_daam.pipeline.extract import extract_dataset
from keras_daam.pipeline.extract import extract_files
from keras_daam.pipeline.extract import load_extractor
from keras_daam.pipeline.extract import parse_layers
from keras_daam.pipeline.extract import read_data
from keras_daam.pipeline.predict import predict_to_csv
from keras_daam.pipeline.train import train_on_cache

__all__ = [
    "detect_modality",
    "explain_cache",
    "extract_dataset",
    "extract_files",
    "load_extractor",
    "parse_layers",
    "predict_to_csv",
    "read_data",
    "train_on_cache",
]
