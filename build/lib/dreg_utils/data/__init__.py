"""Datasets: synthetic function families (``synthetic``), MNIST and Fashion-MNIST (``mnist``),
regression benchmarks (``regression``)."""
