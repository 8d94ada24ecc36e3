"""What training changed: trained vs initial Importance Factor, over seeds.

An averaged DAAM map reflects the data's statistics as much as learning:
the gate standardises each element by its own head's mean and variance, so
even an untrained gate (delta = 0, xi = 2) produces a structured map. On
MiniLM / WordNet a prototype's trained 1-head gate ranked the layers
exactly as the untrained gate did, and the paper itself reports learned
delta within +-0.1 and xi within 1.88-2.06. This module measures that.
"""

import dataclasses

import keras
import numpy as np

from keras_daam.explain.collection import DEFAULT_LAYER_NAME
from keras_daam.explain.collection import collect_density_maps
from keras_daam.explain.collection import density_layer
from keras_daam.explain.importance import importance_factor
from keras_daam.explain.importance import layer_contribution
from keras_daam.explain.importance import spearman_rank_correlation
from keras_daam.utils import to_numpy


@dataclasses.dataclass
class TrainingEffect:
    """Trained vs initial importance of one head, for one or more seeds.

    Attributes:
        trained_if: array `[S, L, ...]`, the IF of each trained head.
        initial_if: array `[S, L, ...]`, the IF of each head at
            initialisation, on the same data.
        trained_contribution: array `[S, L]`, layer contributions (%).
        initial_contribution: array `[S, L]`.
        spearman: array `[S]`, rank correlation of the per-layer
            contributions, trained vs initial, per seed. Near 1: training
            did not change which layers the map favours.
        seed_spearman: float, mean pairwise rank correlation between the
            trained seeds (NaN with one seed): how stable the ranking is.
        weight_change: list of dicts, per seed, `{weight name: max |trained
            - initial|}` for the density layer's weights.
    """

    trained_if: np.ndarray
    initial_if: np.ndarray
    trained_contribution: np.ndarray
    initial_contribution: np.ndarray
    spearman: np.ndarray
    seed_spearman: float
    weight_change: list

    @property
    def contribution_mean(self):
        """Mean trained contribution per layer over seeds, `[L]`."""
        return self.trained_contribution.mean(axis=0)

    @property
    def contribution_std(self):
        """Standard deviation of the trained contribution over seeds."""
        return self.trained_contribution.std(axis=0)

    def summary(self):
        """A short plain-text report."""
        s = self.spearman
        lines = [
            f"seeds: {len(s)}, layers: {self.trained_contribution.shape[1]}",
            "Spearman(trained, initial) per seed: "
            + ", ".join(f"{v:.3f}" for v in s),
            "Spearman between trained seeds (mean): "
            + ("n/a (one seed)" if len(s) < 2 else f"{self.seed_spearman:.3f}"),
            "trained contribution % (mean +- std over seeds): "
            + ", ".join(
                f"{m:.2f}+-{d:.2f}"
                for m, d in zip(self.contribution_mean, self.contribution_std)
            ),
            "initial contribution % (seed 0): "
            + ", ".join(f"{v:.2f}" for v in self.initial_contribution[0]),
        ]
        for i, change in enumerate(self.weight_change):
            lines.append(
                f"seed {i} max |weight change|: "
                + ", ".join(f"{k}={v:.4g}" for k, v in change.items())
            )
        if np.nanmin(s) > 0.9:
            lines.append(
                "Training barely changed the layer ranking: the map mostly "
                "reflects the data's statistics. Test importance by "
                "retraining (retrain_on_layers)."
            )
        return "\n".join(lines)


def initial_copy(model_or_layer):
    """The same architecture with freshly initialised weights.

    A model is cloned with `keras.models.clone_model` (new layers from
    their configs), a layer is rebuilt with `from_config`. Seeded
    initialisers reproduce the original initial weights exactly; the
    paper's DAAM initialisation (delta = 0, xi = 2) is deterministic anyway.
    """
    if isinstance(model_or_layer, keras.Model):
        return keras.models.clone_model(model_or_layer)
    return model_or_layer.__class__.from_config(model_or_layer.get_config())


def _weight_change(trained, initial):
    out = {}
    for w_t, w_i in zip(trained.weights, initial.weights):
        a = np.asarray(to_numpy(w_t), dtype=np.float64)
        b = np.asarray(to_numpy(w_i), dtype=np.float64)
        name = w_t.path if hasattr(w_t, "path") else w_t.name
        out[name.split("/", 1)[-1] if "/" in name else name] = (
            float(np.abs(a - b).max()) if a.size else 0.0
        )
    return out


def compare_with_initialization(
    trained,
    data,
    initial=None,
    batch_size=64,
    padding_mask=None,
    pooled_axes=(),
    layer_name=DEFAULT_LAYER_NAME,
):
    """Compare the IF of trained heads with the same heads at initialisation.

    For each trained model (one per seed), collect its Density Attention map
    and that of its initial state on the same data, turn both into IF and
    layer contributions, and rank-correlate the per-layer contributions
    (Spearman). A correlation near 1 means the trained map ranks layers as
    the untrained one does: the ranking then reflects the data's statistics
    (each head standardises by its own mean and variance) more than
    anything learned. The paper's parameters move little (delta within
    +-0.1, xi within 1.88-2.06), so this is common. The real test of a
    layer's importance is retraining on it: `retrain_on_layers`.

    Args:
        trained: a model or layer (as for `collect_density_maps`), or a
            list of them, e.g. the same head trained with several seeds.
        data: the data, as for `collect_density_maps` (use validation
            data).
        initial: optional model/layer (or list, one per trained entry) in
            its initial state, e.g. a copy saved before `fit`. If `None`,
            `initial_copy(trained)` is used: same config, fresh weights.
        batch_size, padding_mask, pooled_axes, layer_name: as in
            `collect_density_maps`.

    Returns:
        A `TrainingEffect` (see its attributes and `.summary()`).

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> layer = keras_daam.layers.DensityAdaptiveAttention()
    >>> x = np.random.normal(size=(16, 6, 8)).astype("float32")
    >>> _ = layer(x)
    >>> effect = keras_daam.explain.compare_with_initialization(layer, x)
    >>> float(effect.spearman[0])  # untouched layer: same ranking
    1.0
    """
    models = list(trained) if isinstance(trained, (list, tuple)) else [trained]
    if not models:
        raise ValueError("`trained` is an empty list.")
    if initial is None:
        initials = [initial_copy(m) for m in models]
    else:
        initials = (
            list(initial) if isinstance(initial, (list, tuple)) else [initial]
        )
        if len(initials) == 1 and len(models) > 1:
            initials = initials * len(models)
        if len(initials) != len(models):
            raise ValueError(
                f"Got {len(models)} trained models but {len(initials)} "
                "initial ones; pass one initial model, or one per seed."
            )
    kwargs = dict(
        batch_size=batch_size,
        padding_mask=padding_mask,
        pooled_axes=pooled_axes,
        layer_name=layer_name,
    )
    t_if, i_if, changes = [], [], []
    for model, init in zip(models, initials):
        t_if.append(
            importance_factor(collect_density_maps(model, data, **kwargs))
        )
        i_if.append(
            importance_factor(collect_density_maps(init, data, **kwargs))
        )
        changes.append(
            _weight_change(
                density_layer(model, layer_name),
                density_layer(init, layer_name),
            )
        )
    t_if, i_if = np.stack(t_if), np.stack(i_if)
    t_c = np.stack([layer_contribution(m) for m in t_if])
    i_c = np.stack([layer_contribution(m) for m in i_if])
    rho = np.array([spearman_rank_correlation(a, b) for a, b in zip(t_c, i_c)])
    pairs = [
        spearman_rank_correlation(t_c[i], t_c[j])
        for i in range(len(t_c))
        for j in range(i + 1, len(t_c))
    ]
    seed_rho = float(np.nanmean(pairs)) if pairs else float("nan")
    return TrainingEffect(
        trained_if=t_if,
        initial_if=i_if,
        trained_contribution=t_c,
        initial_contribution=i_c,
        spearman=rho,
        seed_spearman=seed_rho,
        weight_change=changes,
    )
