"""An honest evaluation protocol for heads trained on cached features.

The rules this package enforces:

- The learning rate (a small grid) and the number of epochs (early stopping
  with the best weights restored) are chosen on a validation split carved
  from the training data. The test split is touched once, by the selected
  model. Nothing is ever selected on test (`protocol.fit_and_select`).
- Every configuration is run over several seeds and reported as mean and
  standard deviation (`runner.train_heads`, `statistics.summarize`).
- Two heads are compared on the same seeds and the same test examples: the
  per-seed paired difference, a paired bootstrap confidence interval over
  test examples (pooled over seeds) and an exact McNemar test per seed. A
  difference whose 95% interval contains zero is reported as a tie
  (`statistics.compare`).
- Tables and reports name each row after the registered head it is
  (`reports`).

Imports Keras, NumPy and `keras_daam.heads`; SciPy (the exact McNemar test)
on first use.

Example:

>>> import numpy as np
>>> from keras_daam import evaluation
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 200)
>>> a = np.where(rng.random(200) < 0.8, y, 1 - y)
>>> b = np.where(rng.random(200) < 0.7, y, 1 - y)
>>> p = evaluation.mcnemar_test(y, a, b)
>>> 0.0 <= p <= 1.0
True
"""

from keras_daam.evaluation.protocol import DEFAULT_LEARNING_RATES
from keras_daam.evaluation.protocol import accuracy
from keras_daam.evaluation.protocol import check_learning_rates
from keras_daam.evaluation.protocol import fit_and_select
from keras_daam.evaluation.protocol import predict_classes
from keras_daam.evaluation.reports import comparisons
from keras_daam.evaluation.reports import comparisons_table
from keras_daam.evaluation.reports import jsonable
from keras_daam.evaluation.reports import results_table
from keras_daam.evaluation.reports import row_label
from keras_daam.evaluation.reports import write_report
from keras_daam.evaluation.runner import check_heads
from keras_daam.evaluation.runner import train_heads
from keras_daam.evaluation.statistics import compare
from keras_daam.evaluation.statistics import format_mean_std
from keras_daam.evaluation.statistics import mcnemar_test
from keras_daam.evaluation.statistics import paired_bootstrap
from keras_daam.evaluation.statistics import summarize

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "accuracy",
    "check_heads",
    "check_learning_rates",
    "compare",
    "comparisons",
    "comparisons_table",
    "fit_and_select",
    "format_mean_std",
    "jsonable",
    "mcnemar_test",
    "paired_bootstrap",
    "predict_classes",
    "results_table",
    "row_label",
    "summarize",
    "train_heads",
    "write_report",
]
