"""minievo: evolutionary autoencoder training with pruning, in NumPy and Numba."""
__version__ = "0.1.0"
