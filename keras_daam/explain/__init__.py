"""Explainability: Density Attention maps and the Importance Factor (IF).

Pipeline: `collect_density_maps` (a streaming, masked mean of the DAAM map
over a dataset) -> `importance_factor` (global min-max to [0, 1]) ->
`layer_contribution`, `top_k_layers` / `bottom_k_layers`, plots, tables.
Two checks keep the explanation honest: `compare_with_initialization`
(does the trained map rank layers differently from the untrained one?) and
`retrain_on_layers` / `importance_ablation` (do high-IF layers actually
train a better head?). Plots need matplotlib (imported lazily).
"""

from keras_daam.explain.collection import collect_class_maps
from keras_daam.explain.collection import collect_density_maps
from keras_daam.explain.collection import density_layer
from keras_daam.explain.collection import iterate_batches
from keras_daam.explain.importance import bottom_k_layers
from keras_daam.explain.importance import class_profiles
from keras_daam.explain.importance import importance_factor
from keras_daam.explain.importance import layer_contribution
from keras_daam.explain.importance import layer_scores
from keras_daam.explain.importance import spearman_rank_correlation
from keras_daam.explain.importance import top_k_layers
from keras_daam.explain.plots import plot_class_profiles
from keras_daam.explain.plots import plot_importance_heatmap
from keras_daam.explain.plots import plot_layer_contribution
from keras_daam.explain.selection import importance_ablation
from keras_daam.explain.selection import retrain_on_layers
from keras_daam.explain.table import to_table
from keras_daam.explain.table import write_csv
from keras_daam.explain.training_effect import TrainingEffect
from keras_daam.explain.training_effect import compare_with_initialization
from keras_daam.explain.training_effect import initial_copy

__all__ = [
    "TrainingEffect",
    "bottom_k_layers",
    "class_profiles",
    "collect_class_maps",
    "collect_density_maps",
    "compare_with_initialization",
    "density_layer",
    "importance_ablation",
    "importance_factor",
    "initial_copy",
    "iterate_batches",
    "layer_contribution",
    "layer_scores",
    "plot_class_profiles",
    "plot_importance_heatmap",
    "plot_layer_contribution",
    "retrain_on_layers",
    "spearman_rank_correlation",
    "to_table",
    "top_k_layers",
    "write_csv",
]
