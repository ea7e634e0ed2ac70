"""minievo: evolutionary autoencoder training with pruning, in NumPy and Numba.

The small public API; the modules hold the rest:

* :func:`make_autoencoder`, :class:`Autoencoder`, :class:`MLP` (``network``)
* :func:`loss_and_gradients`, :class:`Engine` (``engine``)
* :func:`generate_binary_clustering`, :func:`load_or_generate` (``data``)
* :class:`Config` (``experiments.config``), :func:`run` (``experiments.run``),
  :func:`default_job` (``experiments.presets``: the Config of ``minievo run``)
* :func:`run_sweep` (``experiments.sweep``), :func:`write_report` (``experiments.report``)
* :func:`register_operator`, :func:`register_schedule` (``pruning.registry``)
"""

__version__ = "0.1.0"

from .data import generate_binary_clustering, load_or_generate  # noqa: E402
from .engine import Engine, loss_and_gradients  # noqa: E402
from .experiments.config import Config  # noqa: E402
from .experiments.presets import default_job  # noqa: E402
from .experiments.report import write_report  # noqa: E402
from .experiments.run import run  # noqa: E402
from .experiments.sweep import run_sweep  # noqa: E402
from .network import MLP, Autoencoder, MLPSpec, make_autoencoder  # noqa: E402
from .pruning.registry import register_operator, register_schedule  # noqa: E402

__all__ = [
    "Autoencoder",
    "Config",
    "Engine",
    "default_job",
    "MLP",
    "MLPSpec",
    "generate_binary_clustering",
    "load_or_generate",
    "loss_and_gradients",
    "make_autoencoder",
    "register_operator",
    "register_schedule",
    "run",
    "run_sweep",
    "write_report",
    "__version__",
]
