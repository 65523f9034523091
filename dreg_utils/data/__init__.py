"""Datasets: synthetic function families (and, later, MNIST and regression benchmarks)."""
