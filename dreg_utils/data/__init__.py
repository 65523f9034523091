"""Datasets: synthetic function families (``synthetic``), MNIST and Fashion-MNIST (``mnist``; their
IDX files: ``mnist_files``), regression benchmarks (``regression``)."""
