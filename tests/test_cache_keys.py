"""A run's cache key holds content only: the same data read from two folders, or described by
another message, gives the same keys; no study's configuration holds a path or a message."""
import json
from dataclasses import replace

import numpy as np
import pytest

from dreg_utils import sweep
from dreg_utils.data.mnist import load_mnist
from dreg_utils.studies import distillation, mnist, surrogate, synthetic, synthetic_ablation
from dreg_utils.studies import distillation_ablation, mnist_frontier
from dreg_utils.studies.distillation import DistillationSettings
from dreg_utils.studies.mnist import MNISTSettings


def _idx(array: np.ndarray) -> bytes:
    """An uncompressed IDX file of a uint8 array."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx_files(folder) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for name, array in (("train-images-idx3-ubyte", rng.integers(0, 256, (30, 28, 28))),
                        ("train-labels-idx1-ubyte", np.arange(30) % 10),
                        ("t10k-images-idx3-ubyte", rng.integers(0, 256, (20, 28, 28))),
                        ("t10k-labels-idx1-ubyte", np.arange(20) % 10)):
        (folder / name).write_bytes(_idx(np.asarray(array)))


def _keys(settings, data) -> list[str]:
    configs = mnist.make_configs(settings, data) + mnist_frontier.make_frontier_configs(settings, data)
    return [sweep.config_key(c, mnist.STUDY_VERSION) for c in configs]


def test_the_same_files_in_two_folders_give_the_same_keys(tmp_path, monkeypatch):
    """Reproduction: ``data_source`` (the folder, and how it was given) was part of every MNIST key."""
    _write_idx_files(tmp_path / "a")
    _write_idx_files(tmp_path / "b")
    settings = mnist.validate(MNISTSettings.from_profile("smoke"))
    given = load_mnist("mnist", tmp_path / "a", source="idx")
    monkeypatch.setenv("DREG_DATA_DIR", str(tmp_path / "b"))
    from_env = load_mnist("mnist", source="idx")
    assert given.source != from_env.source  # the folder and the way it was named differ...
    assert _keys(settings, given) == _keys(settings, from_env)  # ...the keys do not
    text = json.dumps(mnist.make_configs(settings, given))
    assert str(tmp_path) not in text and "data_dir" not in text and "IDX" not in text


def test_an_offline_message_is_not_part_of_a_key(tiny_mnist):
    settings = mnist.validate(MNISTSettings.from_profile("smoke"))
    offline = replace(tiny_mnist, source=f"{tiny_mnist.source} [no network download: <urlopen error "
                                         "[Errno -3] Temporary failure in name resolution>]")
    assert _keys(settings, offline) == _keys(settings, tiny_mnist)
    assert set(mnist.data_identity(tiny_mnist)) == {"dataset", "data_fingerprint", "n_train", "n_test"}
    other = replace(tiny_mnist, x_train=tiny_mnist.x_train.flip(0))  # other content, other keys
    assert not set(_keys(settings, other)) & set(_keys(settings, tiny_mnist))


def test_the_run_table_still_names_the_data_source(tiny_mnist, tmp_path):
    settings = mnist.validate(MNISTSettings.from_profile(
        "smoke", capacities=[[8, 4]], activations=["relu"], methods=["base"], seeds=[0], epochs=1,
        device="cpu"))
    first = mnist.run_sweep(settings, tiny_mnist, tmp_path, progress=False)
    moved = replace(tiny_mnist, source="the same tensors, read from elsewhere")
    again = mnist.run_sweep(settings, moved, tmp_path, progress=False)
    assert again["cached"].all() and again["run_key"].tolist() == first["run_key"].tolist()
    assert list(again.columns[:2]) == ["dataset", "data_source"]
    assert again["data_source"].tolist() == ["the same tensors, read from elsewhere"]


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("configs", [
    lambda: synthetic.make_configs(synthetic.validate({"profile": "smoke"})),
    lambda: synthetic_ablation.make_configs(synthetic_ablation.validate({"profile": "smoke"})),
    lambda: surrogate.make_configs(surrogate.validate({"profile": "smoke"})),
    lambda: distillation.make_configs(distillation.validate(DistillationSettings.from_profile("smoke")),
                                      ["concrete", "feynman_I_14_4"], [0.1]),
    lambda: distillation_ablation.make_variant_configs(
        distillation_ablation.DistillationAblationSettings.from_profile("smoke")),
], ids=["synthetic", "synthetic_ablation", "surrogate", "distillation", "distillation_ablation"])
def test_no_configuration_holds_a_path_or_a_message(configs):
    strings = {s for c in configs() for s in _strings(c)}
    assert strings and not [s for s in strings if "/" in s or " " in s.strip() or "\\" in s], strings
