"""The layout table shared by the kernels and :mod:`minievo.network`.

An :class:`~minievo.network.MLP` stores all its layers in one flat parameter
vector; an ``(n_layers, 7)`` integer table says where each layer lives. The
kernels read that table, so its column numbers and activation codes belong to
the lowest layer (the kernels); :mod:`minievo.network` imports them from here.
"""

from __future__ import annotations

# Activation codes stored in the layout table (column ``ACT``).
IDENTITY, RELU, SIGMOID = 0, 1, 2
ACTIVATIONS = {"identity": IDENTITY, "relu": RELU, "sigmoid": SIGMOID}

# Columns of the layout table: inputs, outputs, weight offset, bias offset,
# activation code, offset of the layer's outputs in the activation buffer,
# and whether the activation records hold the post-activation value.
N_IN, N_OUT, W_OFF, B_OFF, ACT, OUT_OFF, REC_POST = range(7)
