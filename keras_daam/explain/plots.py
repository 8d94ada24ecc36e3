"""Plots of the Importance Factor (matplotlib, an optional dependency).

matplotlib is imported only when a plot is drawn. Figures are built with
`matplotlib.figure.Figure` (not pyplot): no display or GUI backend is
needed, and no global figure list grows. Each function returns the figure;
in Jupyter it shows as the cell's result. Pass `path=` to save it (format
from the extension: `.png`, `.svg`, `.pdf`).
"""

import numpy as np

from keras_daam.explain.importance import class_profiles
from keras_daam.explain.importance import layer_contribution

_MANY_LAYERS = 40


def _matplotlib():
    try:
        import matplotlib.figure
        import matplotlib.ticker
    except ImportError as e:
        raise ImportError(
            "keras_daam.explain plots need matplotlib, an optional "
            "dependency. Install it with `pip install matplotlib` (or "
            "`pip install keras-daam[plot]`)."
        ) from e
    return matplotlib.figure, matplotlib.ticker


def _figure_and_axes(ax, figsize):
    figure, _ = _matplotlib()
    if ax is not None:
        return ax.figure, ax
    fig = figure.Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _save(fig, path, dpi):
    if path is not None:
        fig.savefig(path, dpi=dpi)


def _layer_labels(layer_labels, n):
    if layer_labels is None:
        return [str(i) for i in range(n)]
    labels = [str(v) for v in layer_labels]
    if len(labels) != n:
        raise ValueError(
            f"`layer_labels` has {len(labels)} entries for {n} layers."
        )
    return labels


def _set_layer_ticks(axis_setter, label_setter, labels, locator_axis, ticker):
    """Every layer labelled up to 40 layers; a sparse locator beyond."""
    n = len(labels)
    if n <= _MANY_LAYERS:
        size = 8 if n <= 24 else 6
        axis_setter(np.arange(n))
        label_setter(labels, fontsize=size)
    else:
        locator_axis.set_major_locator(
            ticker.MaxNLocator(nbins=20, integer=True)
        )


def plot_importance_heatmap(
    if_map,
    layer_labels=None,
    title="Importance Factor",
    cmap="viridis",
    colorbar_label="IF",
    ax=None,
    figsize=None,
    path=None,
    dpi=150,
):
    """Heat map of an IF map: x = feature, y = layer (the paper's Figure 2).

    Layer 0 is the top row. Every layer is labelled (up to 40 layers; more
    get a sparse axis); the feature axis gets about 8 integer ticks
    whatever its width (384 to 5120 and beyond). The colour scale is fixed
    to [0, 1] when the values lie in it (an IF), so figures compare.

    Args:
        if_map: array `[L, d]`, usually `importance_factor(maps)`. NaN
            entries are drawn blank.
        layer_labels: optional list of `L` tick labels. Defaults to the
            0-based indices.
        title: str. Axes title. Defaults to `"Importance Factor"`.
        cmap: str. Matplotlib colour map. Defaults to `"viridis"`.
        colorbar_label: str. Defaults to `"IF"`.
        ax: optional matplotlib `Axes` to draw into.
        figsize: optional `(width, height)` in inches. Defaults to a height
            growing with the number of layers.
        path: optional file path to save to (`.png`, `.svg`, ...).
        dpi: int. Resolution of saved raster images. Defaults to 150.

    Returns:
        The matplotlib `Figure`.

    Example:

    ```python
    if_map = keras_daam.explain.importance_factor(maps)
    fig = keras_daam.explain.plot_importance_heatmap(if_map, path="if.png")
    ```
    """
    _, ticker = _matplotlib()
    data = np.asarray(if_map, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(
            f"The heat map needs a 2-D map `[L, d]`. Received shape "
            f"{data.shape}."
        )
    n_layers, n_features = data.shape
    if figsize is None:
        figsize = (10.0, float(np.clip(0.22 * n_layers + 1.6, 3.0, 11.0)))
    fig, ax = _figure_and_axes(ax, figsize)
    finite = data[np.isfinite(data)]
    in_unit = finite.size and finite.min() >= 0 and finite.max() <= 1
    image = ax.imshow(
        np.ma.masked_invalid(data),
        aspect="auto",
        # Nearest-neighbour when zoomed in, smoothed when thousands of
        # features share fewer pixels (no feature silently dropped).
        interpolation="antialiased",
        cmap=cmap,
        vmin=0.0 if in_unit else None,
        vmax=1.0 if in_unit else None,
    )
    colorbar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    colorbar.set_label(colorbar_label)
    ax.set_xlabel(f"Feature (0-{n_features - 1})")
    ax.set_ylabel("Layer")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=8, integer=True))
    _set_layer_ticks(
        ax.set_yticks,
        ax.set_yticklabels,
        _layer_labels(layer_labels, n_layers),
        ax.yaxis,
        ticker,
    )
    if title:
        ax.set_title(title)
    _save(fig, path, dpi)
    return fig


def plot_layer_contribution(
    contribution,
    std=None,
    layer_labels=None,
    highlight=None,
    title="Layer contribution",
    ax=None,
    figsize=None,
    path=None,
    dpi=150,
):
    """Bar chart of each layer's percentage contribution (Figure 3).

    Args:
        contribution: array `[L]` of percentages (from
            `layer_contribution`), or an IF map `[L, d]` from which they
            are computed.
        std: optional array `[L]`: error bars, e.g.
            `TrainingEffect.contribution_std` over seeds.
        layer_labels: optional list of `L` tick labels. Defaults to the
            0-based indices.
        highlight: optional layer indices drawn in a second colour (e.g.
            `top_k_layers(if_map, 3)`).
        title, ax, figsize, path, dpi: as in `plot_importance_heatmap`.

    Returns:
        The matplotlib `Figure`.
    """
    _, ticker = _matplotlib()
    values = np.asarray(contribution, dtype=np.float64)
    if values.ndim > 1:
        values = layer_contribution(values)
    n = values.shape[0]
    if std is not None:
        std = np.asarray(std, dtype=np.float64)
        if std.shape != values.shape:
            raise ValueError(
                f"`std` has shape {std.shape}; expected {values.shape}."
            )
    if figsize is None:
        figsize = (float(np.clip(0.28 * n + 2.5, 5.0, 14.0)), 3.6)
    fig, ax = _figure_and_axes(ax, figsize)
    colors = np.array(["tab:blue"] * n, dtype=object)
    if highlight is not None:
        colors[np.asarray(highlight, dtype=int)] = "tab:orange"
    ax.bar(
        np.arange(n),
        values,
        yerr=std,
        color=list(colors),
        capsize=2 if std is not None else 0,
    )
    ax.set_xlabel("Layer")
    ax.set_ylabel("Contribution (%)")
    _set_layer_ticks(
        ax.set_xticks,
        ax.set_xticklabels,
        _layer_labels(layer_labels, n),
        ax.xaxis,
        ticker,
    )
    ax.set_xlim(-0.6, n - 0.4)
    if title:
        ax.set_title(title)
    _save(fig, path, dpi)
    return fig


def plot_class_profiles(
    class_maps,
    class_names=None,
    kind="auto",
    per_class=False,
    layer_labels=None,
    title="IF profile per class",
    ax=None,
    figsize=None,
    path=None,
    dpi=150,
):
    """Compare the IF profile over layers between classes.

    All classes' maps are scaled to IF together (one global min and max),
    so heights compare; each profile is a layer's mean IF (see
    `class_profiles`).

    Args:
        class_maps: dict `{class: map [L, d]}` from `collect_class_maps`, or
            an array `[C, L, d]`.
        class_names: optional names, indexed by class id (a list) or keyed
            like `class_maps` (a dict). Defaults to the class ids.
        kind: `"lines"` (one line per class), `"heatmap"` (class x layer)
            or `"auto"` (lines up to 10 classes). Defaults to `"auto"`.
        per_class: bool. Scale each class's map separately. Defaults to
            `False`.
        layer_labels, title, ax, figsize, path, dpi: as in
            `plot_importance_heatmap`.

    Returns:
        The matplotlib `Figure`.
    """
    _, ticker = _matplotlib()
    if kind not in ("auto", "lines", "heatmap"):
        raise ValueError(
            f"`kind` must be 'auto', 'lines' or 'heatmap'. Received: {kind!r}"
        )
    classes, profiles = class_profiles(class_maps, per_class=per_class)
    n_classes, n_layers = profiles.shape
    if class_names is None:
        names = [str(c) for c in classes]
    elif isinstance(class_names, dict):
        names = [str(class_names.get(c, c)) for c in classes]
    else:
        names = [
            str(class_names[c])
            if isinstance(c, (int, np.integer)) and 0 <= c < len(class_names)
            else str(c)
            for c in classes
        ]
    if kind == "auto":
        kind = "lines" if n_classes <= 10 else "heatmap"
    labels = _layer_labels(layer_labels, n_layers)
    if kind == "lines":
        if figsize is None:
            figsize = (float(np.clip(0.28 * n_layers + 3.5, 6.0, 14.0)), 4.0)
        fig, ax = _figure_and_axes(ax, figsize)
        for name, profile in zip(names, profiles):
            ax.plot(np.arange(n_layers), profile, marker="o", ms=3, label=name)
        ax.set_ylabel("Mean IF")
        ax.legend(fontsize=7, ncol=max(1, n_classes // 6), loc="best")
    else:
        if figsize is None:
            figsize = (
                float(np.clip(0.28 * n_layers + 3.5, 6.0, 14.0)),
                float(np.clip(0.25 * n_classes + 1.6, 3.0, 11.0)),
            )
        fig, ax = _figure_and_axes(ax, figsize)
        image = ax.imshow(
            profiles, aspect="auto", interpolation="nearest", cmap="viridis"
        )
        fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02).set_label("Mean IF")
        ax.set_yticks(np.arange(n_classes))
        ax.set_yticklabels(names, fontsize=8 if n_classes <= 24 else 6)
        ax.set_ylabel("Class")
    ax.set_xlabel("Layer")
    _set_layer_ticks(
        ax.set_xticks, ax.set_xticklabels, labels, ax.xaxis, ticker
    )
    if title:
        ax.set_title(title)
    _save(fig, path, dpi)
    return fig
