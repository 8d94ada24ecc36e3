"""Multi-class focal loss."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_daam")
class FocalLoss(keras.losses.Loss):
    """Multi-class focal loss, `alpha * (1 - p_t)**gamma * -log(p_t)`.

    `p_t` is the predicted probability of the true class
    ([Lin et al., 2017](https://arxiv.org/abs/1708.02002)); `alpha` is one
    scalar for every class, as in the DAAM paper's speech experiments
    (`alpha=0.25`, `gamma=2.5`). Labels may be sparse integer class ids
    (`[batch]` or `[batch, 1]`) or one-hot / soft `[batch, classes]`; for
    one-hot labels the value equals
    `keras.losses.CategoricalFocalCrossentropy(alpha, gamma)`. The maths run
    in float32 from a log-softmax, so large logits cannot overflow.

    Args:
        alpha: float. Weighting factor. Defaults to `0.25`.
        gamma: float. Focusing parameter (0 gives `alpha` times
            cross-entropy). Defaults to `2.5`.
        from_logits: bool. Whether `y_pred` holds logits rather than
            probabilities. Defaults to `True`.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: str. Defaults to `"focal_loss"`.
        dtype: loss dtype. Defaults to `None`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> loss = keras_daam.heads.FocalLoss()
    >>> value = loss(np.array([0, 2]), np.array([[2.0, 0, 0], [0, 0, 1.0]]))
    >>> bool(value > 0)
    True
    """

    def __init__(
        self,
        alpha=0.25,
        gamma=2.5,
        from_logits=True,
        reduction="sum_over_batch_size",
        name="focal_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if alpha < 0:
            raise ValueError(f"`alpha` must be >= 0. Received: alpha={alpha}")
        if gamma < 0:
            raise ValueError(f"`gamma` must be >= 0. Received: gamma={gamma}")
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
        else:
            log_probs = ops.log(ops.clip(y_pred, 1e-7, 1.0))
        num_classes = y_pred.shape[-1]
        sparse = not (
            len(y_true.shape) == len(y_pred.shape)
            and y_true.shape[-1] == num_classes
            and num_classes != 1
        )
        if sparse:
            labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            y_true = ops.one_hot(labels, num_classes, dtype="float32")
            y_true = ops.reshape(y_true, ops.shape(log_probs))
        y_true = ops.cast(y_true, "float32")
        probs = ops.exp(log_probs)
        weight = self.alpha * ops.power(
            ops.maximum(1.0 - probs, 0.0), self.gamma
        )
        return -ops.sum(y_true * weight * log_probs, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "alpha": self.alpha,
                "gamma": self.gamma,
                "from_logits": self.from_logits,
            }
        )
        return config
