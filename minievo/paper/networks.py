"""Networks (docs/algorithm.md §2): masked layers, forward beside backward, L1, Adam.

Layer l maps n_l -> n_{l+1} with W_l (n_{l+1}, n_l) and b_l (n_{l+1},), as PyTorch's
nn.Linear; a network keeps ``params = [W_0, b_0, W_1, b_1, ...]`` and lists of the same
shapes for the 0/1 masks, the gradients and Adam's moments. For a batch X (B, n_0):
z_l = a_{l-1} W_l^T + b_l, a_l = f_l(z_l), a_{-1} = X.
"""

import numpy as np

#: §2: encoder widths after the input; the decoder mirrors them, then a sigmoid of width D.
ENVIRONMENTS = {"default": (30, 10), "small": (30, 2), "large": (60, 30, 10)}
BETAS, EPS = (0.5, 0.999), 1e-8  # Adam (§2)


class Net:
    """One encoder or decoder: tensors, masks, Adam state and activation records (§5).

    With ``record_rows`` > 0 (only while VARIANCE prunes) every forward pass adds each layer's
    signal at each batch position b to running sums: ``count[b]``, ``sums[l][b]``, ``sqs[l][b]``.
    """

    def __init__(self, sizes, acts, rng, record_rows, signal):
        self.acts, self.signal, self.params = acts, signal, []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):  # nn.Linear: U(-1/sqrt(n_in), ..)
            bound = 1.0 / np.sqrt(n_in)
            for shape in ((n_out, n_in), (n_out,)):
                self.params.append(rng.uniform(-bound, bound, shape).astype(np.float32))
        self.masks = [np.ones_like(p) for p in self.params]
        self.m = [np.zeros_like(p) for p in self.params]  # Adam's moments and step count
        self.v, self.t = [np.zeros_like(p) for p in self.params], 0
        self.count, self.n_pruned = np.zeros(record_rows), 0  # n_pruned: see pruning.apply_masks
        self.clear_records()

    def clear_records(self):
        self.count = np.zeros_like(self.count)  # (R,) float64
        self.sums = [np.zeros((len(self.count), len(b))) for b in self.params[1::2]]  # (R, n_out)
        self.sqs = [np.zeros((len(self.count), len(b))) for b in self.params[1::2]]

    def copy(self, keep_records=False):
        """An independent copy; its records start empty (the published clone()) unless kept."""
        other = object.__new__(Net)
        other.__dict__.update(vars(self))  # acts, signal, t, n_pruned
        for name in ("params", "masks", "m", "v", "sums", "sqs"):
            setattr(other, name, [a.copy() for a in getattr(self, name)])
        other.count = self.count.copy()
        if not keep_records:
            other.clear_records()
        return other


def new_pair(environment, D, rng, record_rows, signal):
    """A fresh (encoder, decoder): D -> widths, ReLU, and back to D, the last a sigmoid (§2)."""
    widths = ENVIRONMENTS[environment]
    encoder = Net((D, *widths), ("relu",) * len(widths), rng, record_rows, signal)
    acts = ("relu",) * (len(widths) - 1) + ("sigmoid",)
    return encoder, Net((*widths[::-1], D), acts, rng, record_rows, signal)


def forward(net, x):
    """Every layer's output a_l and its signal s_l, the value the operators read (§5 "Which
    signal"): z_l, or a_l on a ReLU layer with the published hook-output signal."""
    outs, signals, a = [], [], x
    for l, act in enumerate(net.acts):
        z = a @ net.params[2 * l].T + net.params[2 * l + 1]  # (B, n_in) @ (n_in, n_out)
        with np.errstate(over="ignore"):
            a = np.maximum(z, 0.0) if act == "relu" else 1.0 / (1.0 + np.exp(-z))
        s = a if (net.signal == "hook_output" and act == "relu") else z  # (B, n_out)
        if len(net.count):
            net.sums[l][: len(x)] += s
            net.sqs[l][: len(x)] += np.square(s, dtype=np.float64)
        outs.append(a)
        signals.append(s)
    net.count[: len(x)] += 1.0
    return outs, signals


def backward(net, x, outs, delta):
    """Gradients of every tensor from delta = dL/da of the last layer; returns them and dL/dx:
    dz_l = da_l f'_l,  dW_l = dz_l^T a_{l-1},  db_l = sum_b dz_l,  da_{l-1} = dz_l W_l."""
    grads = [None] * len(net.params)
    for l in reversed(range(len(net.acts))):
        a = outs[l]  # (B, n_out)
        delta = delta * (a > 0.0) if net.acts[l] == "relu" else delta * (a * (1.0 - a))
        grads[2 * l] = delta.T @ (x if l == 0 else outs[l - 1])  # (n_out, n_in)
        grads[2 * l + 1] = delta.sum(axis=0)  # (n_out,)
        delta = delta @ net.params[2 * l]  # (B, n_in)
    return grads, delta


def l1(y, x):
    """L = mean |y - x| over all B*D entries (§2), and dL/dy = sign(y - x) / (B D)."""
    diff = y - x  # (B, D)
    return float(np.abs(diff).mean(dtype=np.float64)), np.sign(diff) / np.float32(diff.size)


def adam(net, grads, lr, fresh):
    """theta <- theta - lr m_hat / (sqrt(v_hat) + eps) on unmasked entries (§2). A fresh Adam
    (the published code builds one per step, §4 step 4) has zero moments and step k = 1."""
    (b1, b2), k = BETAS, 1
    if not fresh:
        net.t = k = net.t + 1
    for theta, g, mask, m, v in zip(net.params, grads, net.masks, net.m, net.v):
        g = g * mask  # pruned entries get no gradient
        if fresh:
            m, v = (1.0 - b1) * g, (1.0 - b2) * g * g
        else:
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * g * g
        denom = np.sqrt(v) / np.float32(np.sqrt(1.0 - b2**k)) + np.float32(EPS)
        theta -= np.float32(lr / (1.0 - b1**k)) * m / denom
        theta *= mask


def evaluate(pair, x):
    """L1 of the pair on a batch x (B, D), without training (§4 steps 2 and 5)."""
    return l1(forward(pair[1], forward(pair[0], x)[0][-1])[0][-1], x)[0]


def train_step(pair, x, lr, fresh):
    """One Adam step of encoder and decoder on x (B, D); returns the loss before it."""
    encoder, decoder = pair
    outs = forward(encoder, x)[0]
    dec_outs = forward(decoder, outs[-1])[0]
    loss, d_y = l1(dec_outs[-1], x)
    dec_grads, d_code = backward(decoder, outs[-1], dec_outs, d_y)
    adam(encoder, backward(encoder, x, outs, d_code)[0], lr, fresh)
    adam(decoder, dec_grads, lr, fresh)
    return loss
