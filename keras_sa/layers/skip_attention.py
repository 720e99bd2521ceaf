"""The Skip Attention layer."""

import math

import keras
from keras import ops


def _large_negative(dtype):
    """A score that softmax turns into zero weight without overflowing ``dtype``."""
    return -3e4 if dtype in ("float16", "bfloat16") else -1e9


@keras.saving.register_keras_serializable(package="keras_sa")
class SkipAttention(keras.layers.Layer):
    """Skip attention: an attention-gated replacement for a skip connection.

    In a convolutional encoder-decoder the skip connection hands the
    encoder's low-level feature map ``E`` to the decoder, where it is added to
    (or concatenated with) the decoder's map ``D`` of the same resolution.
    Skip attention replaces that hand-over. For every time frame ``h`` it
    treats the frame's ``F x d`` slice (frequency bins by channels) as a
    sequence of ``F`` tokens and lets each decoder bin attend over the
    ``2F`` bins of the decoder and the encoder together:

        Q_h  = D_h W_Q                                  (2)  F  x k
        K_h  = [D_h ; E_h] W_K                          (3)  2F x k
        V_h  = [D_h ; E_h] W_V                          (4)  2F x d
        A_h  = Q_h K_h^T / sqrt(k)                      (5)  F  x 2F
        SA_h = softmax(Mask(A_h)) V_h                   (6)  F  x d
        out_h = D_h + LayerNorm(SA_h + E_h)

    ``[ ; ]`` stacks along frequency, so ``A_h`` is a decoder-to-decoder block
    beside a decoder-to-encoder block (equation 7) and one softmax over both
    decides, per bin, how much comes from decoder context and how much from
    the low-level encoder detail. The attention runs along frequency within
    each frame; all frames are computed at once as batched products.

    Our reading of the paper, and the choices it leaves open:

    - The query comes from the decoder (the side that asks what to take),
      keys and values from both sides; ``W_K`` and ``W_V`` are shared by the
      decoder rows and the encoder rows, as the stacked ``[D; E] W`` implies.
    - No bias terms by default (``use_bias=False``): the paper writes pure
      linear maps.
    - One head by default, as in the paper; ``num_heads > 1`` splits the
      key and value channels into heads (standard multi-head attention).
    - The key width ``k`` defaults to the channel count ``d``, so the scale
      is ``1 / sqrt(d)`` as in equation (5).
    - No mask by default. A boolean ``attention_mask`` may be passed at call
      time; ``False`` entries receive zero attention weight. A row that is
      masked entirely falls back to uniform weights.
    - LayerNorm normalizes over the channel axis at every (frame, bin)
      position, with a learned scale and offset. It is written out as
      ``(x - mean) * rsqrt(var + eps)`` rather than with
      ``keras.layers.LayerNormalization``: the explicit form converts to an
      int8 TFLite model with no float section, the built-in one does not.
    - ``E`` and ``D`` must have the same shape: ``SA_h + E_h`` and
      ``D_h + (...)`` are element-wise.

    The cost per frame is ``5 F d k``-order projections plus
    ``2 F^2 (k + d)`` for the score and value products, so it grows with the
    square of the number of frequency bins: full-resolution levels are the
    expensive ones.

    Args:
        key_dim: width ``k`` of queries and keys per head. Defaults to the
            input channel count divided by ``num_heads``.
        num_heads: number of attention heads. Defaults to ``1``.
        use_bias: whether the query, key and value projections have biases.
            Defaults to ``False``.
        normalize: whether to apply the layer normalization to
            ``SA + E``. With ``False`` the output is ``D + SA + E``.
            Defaults to ``True``.
        epsilon: variance floor of the layer normalization.
            Defaults to ``1e-3``.
        dropout: dropout rate on the attention weights during training.
            Defaults to ``0.0``.
        kernel_initializer: initializer of ``W_Q``, ``W_K`` and ``W_V``.
            Defaults to ``"glorot_uniform"``.
        bias_initializer: initializer of the projection biases.
            Defaults to ``"zeros"``.
        **kwargs: standard layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        encoder: encoder-side feature map ``E``, shape ``(batch, T, F, d)``.
        decoder: decoder-side feature map ``D``, same shape as ``encoder``.
        attention_mask: optional boolean tensor broadcastable to
            ``(batch, T, F, 2F)``: entry ``[..., i, j]`` says whether decoder
            bin ``i`` may attend to key ``j`` (keys ``0..F-1`` are the
            decoder bins, ``F..2F-1`` the encoder bins). ``None`` masks
            nothing.
        training: whether dropout is active.
        return_attention_scores: if ``True``, also return the attention
            weights, shape ``(batch, T, num_heads, F, 2F)``.

    Returns:
        A tensor of the decoder's shape ``(batch, T, F, d)``, and the
        attention weights when ``return_attention_scores`` is set.

    Example:

    >>> import numpy as np
    >>> encoder = np.random.rand(2, 8, 16, 4).astype("float32")
    >>> decoder = np.random.rand(2, 8, 16, 4).astype("float32")
    >>> SkipAttention()(encoder, decoder).shape
    (2, 8, 16, 4)

    References:
        - Yuan, Wang, Li, Unoki and Wang, "A Skip Attention Mechanism for
          Monaural Singing Voice Separation", IEEE Signal Processing Letters
          26(10):1481-1485, 2019, doi:10.1109/LSP.2019.2935867.
        - Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
    """

    def __init__(
        self,
        key_dim=None,
        num_heads=1,
        use_bias=False,
        normalize=True,
        epsilon=1e-3,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_heads < 1:
            raise ValueError(f"num_heads must be at least 1, got {num_heads}")
        if key_dim is not None and key_dim < 1:
            raise ValueError(f"key_dim must be at least 1, got {key_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.key_dim = key_dim
        self.num_heads = num_heads
        self.use_bias = use_bias
        self.normalize = normalize
        self.epsilon = epsilon
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # The layer's own policy, not the global one: under a mixed policy
        # given to this layer alone, a float32 dropout would cast the
        # attention weights back to float32 in the middle of a bf16 product.
        self._dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, encoder_shape, decoder_shape):
        if len(encoder_shape) != 4 or len(decoder_shape) != 4:
            raise ValueError(
                "SkipAttention expects rank-4 (batch, T, F, d) inputs, got "
                f"encoder {encoder_shape} and decoder {decoder_shape}"
            )
        for axis, label in ((2, "frequency"), (3, "channel")):
            e, d = encoder_shape[axis], decoder_shape[axis]
            if e is not None and d is not None and e != d:
                raise ValueError(
                    f"encoder and decoder {label} sizes differ: "
                    f"{encoder_shape} vs {decoder_shape}"
                )
        channels = decoder_shape[-1]
        if channels is None:
            raise ValueError("the channel axis of the inputs must be known")
        if channels % self.num_heads:
            raise ValueError(
                f"{channels} channels do not split into {self.num_heads} heads"
            )
        self._channels = channels
        self._head_value_dim = channels // self.num_heads
        self._head_key_dim = self.key_dim or self._head_value_dim
        key_width = self._head_key_dim * self.num_heads

        def dense(name, width):
            kernel = self.add_weight(
                name=f"{name}_kernel",
                shape=(channels, width),
                initializer=self.kernel_initializer,
            )
            bias = None
            if self.use_bias:
                bias = self.add_weight(
                    name=f"{name}_bias", shape=(width,), initializer=self.bias_initializer
                )
            return kernel, bias

        self.query_kernel, self.query_bias = dense("query", key_width)
        self.key_kernel, self.key_bias = dense("key", key_width)
        self.value_kernel, self.value_bias = dense("value", channels)
        if self.normalize:
            self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")
        self._dropout_layer.build(None)

    def _project(self, x, kernel, bias):
        y = ops.einsum("btfc,cw->btfw", x, kernel)
        return y if bias is None else y + bias

    def _split_heads(self, x, head_dim):
        """(B, T, N, h * c) -> (B, T, h, N, c); a no-op reshape for one head."""
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1], shape[2], self.num_heads, head_dim))
        return ops.transpose(x, (0, 1, 3, 2, 4))

    def _layer_norm(self, x):
        mean = ops.mean(x, axis=-1, keepdims=True)
        centred = x - mean
        variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)
        return centred * ops.rsqrt(variance + self.epsilon) * self.gamma + self.beta

    def call(
        self,
        encoder,
        decoder,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
    ):
        both = ops.concatenate([decoder, encoder], axis=2)  # [D; E]: (B, T, 2F, d)
        query = self._project(decoder, self.query_kernel, self.query_bias)
        key = self._project(both, self.key_kernel, self.key_bias)
        value = self._project(both, self.value_kernel, self.value_bias)
        query = query * ops.cast(1.0 / math.sqrt(self._head_key_dim), query.dtype)

        if self.num_heads == 1:
            scores = ops.einsum("btfk,btgk->btfg", query, key)
        else:
            query = self._split_heads(query, self._head_key_dim)
            key = self._split_heads(key, self._head_key_dim)
            value = self._split_heads(value, self._head_value_dim)
            scores = ops.einsum("bthfk,bthgk->bthfg", query, key)

        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")
            if self.num_heads > 1:
                if len(mask.shape) >= 3:  # make room for the head axis
                    mask = ops.expand_dims(mask, axis=-3)
            scores = ops.where(mask, scores, _large_negative(scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        dropped = self._dropout_layer(weights, training=training)

        if self.num_heads == 1:
            attended = ops.einsum("btfg,btgc->btfc", dropped, value)
        else:
            attended = ops.einsum("bthfg,bthgc->bthfc", dropped, value)
            attended = ops.transpose(attended, (0, 1, 3, 2, 4))
            shape = ops.shape(decoder)
            attended = ops.reshape(attended, shape)

        merged = attended + encoder
        if self.normalize:
            merged = self._layer_norm(merged)
        output = decoder + merged
        if return_attention_scores:
            if self.num_heads == 1:
                weights = ops.expand_dims(weights, axis=2)
            return output, weights
        return output

    def compute_output_shape(self, encoder_shape, decoder_shape):
        return tuple(decoder_shape)

    def compute_macs(self, decoder_shape):
        """Multiply-accumulates of one call, for a decoder of this shape.

        Args:
            decoder_shape: ``(batch, T, F, d)``; ``batch`` may be ``None``
                (counted as 1).

        Returns:
            The number of multiply-accumulates as an ``int``.
        """
        batch, frames, bins, channels = decoder_shape
        keys = self.num_heads * (self.key_dim or channels // self.num_heads)
        projections = bins * channels * keys + 2 * bins * channels * (keys + channels)
        products = 2 * bins * bins * (keys + channels)
        return int((batch or 1) * frames * (projections + products))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "key_dim": self.key_dim,
                "num_heads": self.num_heads,
                "use_bias": self.use_bias,
                "normalize": self.normalize,
                "epsilon": self.epsilon,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
