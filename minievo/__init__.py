"""minievo: evolutionary autoencoder training with pruning, in NumPy and Numba.

The small public API; the modules hold the rest:

* :func:`make_autoencoder`, :class:`Autoencoder`, :class:`MLP` (``network``)
* :func:`loss_and_gradients`, :class:`Engine` (``engine``)
* :func:`generate_binary_clustering`, :func:`load_or_generate` (``data``)
* :class:`Config` (``experiments.config``), :func:`run` (``experiments.run``)
"""

__version__ = "0.1.0"

from .data import generate_binary_clustering, load_or_generate  # noqa: E402
from .engine import Engine, loss_and_gradients  # noqa: E402
from .experiments.config import Config  # noqa: E402
from .experiments.run import run  # noqa: E402
from .network import MLP, Autoencoder, MLPSpec, make_autoencoder  # noqa: E402

__all__ = [
    "Autoencoder",
    "Config",
    "Engine",
    "MLP",
    "MLPSpec",
    "generate_binary_clustering",
    "load_or_generate",
    "loss_and_gradients",
    "make_autoencoder",
    "run",
    "__version__",
]
