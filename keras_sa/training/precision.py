"""Training under a dtype policy while the checkpoints stay float32."""

import keras

from keras_sa.training.options import PRECISIONS, check_choice


def with_precision(model, precision):
    """A copy of a functional separation model whose layers compute in ``precision``.

    Every layer gets the dtype policy ``precision`` except the model's
    output layers (the sigmoid masks), which stay float32, so that the
    masks, the estimates and the loss are float32 whatever the policy. The
    policy is given to each layer rather than set globally, so that nothing
    else built in the process (the float32 model that checkpoints save, a
    model built for evaluation) picks it up. Under ``mixed_bfloat16`` the
    variables are float32 as under ``float32``: the copy's weights load into
    the float32 model unchanged.

    Args:
        model: a functional separation model (from :func:`keras_sa.models.build`).
        precision: one of :data:`PRECISIONS`.

    Returns:
        ``model`` itself for ``"float32"``, else a new model with the same
        layers and a copy of its weights.
    """
    check_choice("precision", precision, PRECISIONS)
    if precision == "float32":
        return model
    config = model.get_config()
    outputs = {name for name, _, _ in config["output_layers"]}
    for layer in config["layers"]:
        if layer["class_name"] != "InputLayer":
            layer["config"]["dtype"] = "float32" if layer["name"] in outputs else precision
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


class CopyWeights(keras.callbacks.Callback):
    """Copies the trained model's weights into the float32 model at each epoch's end."""

    def __init__(self, source, target):
        super().__init__()
        self.source = source
        self.target = target

    def on_epoch_end(self, epoch, logs=None):
        self.target.set_weights(self.source.get_weights())
