"""Training loops: canonical (one autoencoder) and spatial coevolution (Lipi-AE)."""
