"""`nas run method=<gradient-based method>` end to end: the found architecture, its exported model, the record;
and the combinations it refuses, each with one line and exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from nas.run_folder import RunFolder
from search_spaces.nb201 import NB201SearchSpace

SMOKE = ["preset=smoke", "threads=1", "progress=false"]


def nas_run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nas.cli.main", "run", *SMOKE, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_darts_run_ends_with_the_found_architecture_its_model_and_its_record(tmp_path):
    folder = tmp_path / "darts"
    done = nas_run("method=darts", f"run_dir={folder}", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    found = RunFolder(folder).read_found_architecture()
    assert found is not None and found.method == "nas.training.Bilevel" and found.benchmark is None
    assert f"found architecture: {found.arch}" in done.stdout
    assert found.relaxed_accuracy is not None and 0.0 <= found.relaxed_accuracy <= 100.0
    assert (f"supernet accuracy:  {found.supernet_accuracy:.2f}% (inherited weights, the found child alone; "
            f"{found.relaxed_accuracy:.2f}% for the relaxed supernet") in done.stdout
    space = NB201SearchSpace(C=8, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    arch = space.parse(found.arch)
    assert found.params == space.params(arch) and found.train_steps == 8  # 2 epochs of the weights' half
    decisions = found.architecture["parameters"]
    assert {d: max(o, key=lambda k: o[k]["logit"]) for d, o in decisions.items()} == dict(arch)
    saved = torch.load(RunFolder(folder).found_model, weights_only=True)
    model = space.build_model(arch)
    model.load_state_dict(saved["state_dict"])  # strict: the exported child is the standalone network
    assert saved["arch"] == found.arch
    assert "found architecture" in RunFolder(folder).report.read_text()
    assert RunFolder(folder).read_summary().top[0]["arch"] == found.arch


@pytest.mark.parametrize("overrides,message", [
    pytest.param(["method=tanglenas"], "this method searches entangled supernets", marks=pytest.mark.slow),
    pytest.param(["method=gdas", "trainer.method.order=second"], "order=second (unrolled DARTS) needs deterministic",
                 marks=pytest.mark.slow),
    pytest.param(["method=darts", "distillation=kl"], "does not distill", marks=pytest.mark.slow),
])
def test_refused_combinations_are_one_line_and_exit_code_2(tmp_path, overrides, message):
    done = nas_run(*overrides, f"run_dir={tmp_path / 'refused'}", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    ["method=gdas"], ["method=drnas"], ["method=rarts"], ["method=darts", "trainer.method.order=second"],
    ["method=tanglenas", "search_space=fmnist201_entangled"], ["method=tanglenas", "search_space=elastic_conv"],
    ["method=tanglenas", "search_space=elastic_vit"],
])
def test_every_method_runs_end_to_end(tmp_path, overrides):
    folder = tmp_path / "run"
    done = nas_run(*overrides, f"run_dir={folder}", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    found = RunFolder(folder).read_found_architecture()
    assert found is not None and found.train_steps > 0 and f"found architecture: {found.arch}" in done.stdout
    assert torch.load(RunFolder(folder).found_model, weights_only=True)["arch"] == found.arch


def test_the_quick_preset_gives_rarts_half_the_epochs_of_the_two_pass_methods():
    """conf/preset_method/quick_rarts.yaml: RARTS' step is four forward-backward passes, DARTS' two, so the quick
    preset's 12 epochs become 6 for it (the same compute); an explicit trainer.epochs and other presets win."""
    from hydra import compose, initialize_config_dir

    from nas.cli.common import CONF_DIR

    def epochs(*overrides: str) -> int:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return int(compose("run", overrides=list(overrides)).trainer.epochs)

    assert epochs("method=rarts") == 6
    assert [epochs(f"method={m}") for m in ("darts", "gdas", "drnas", "tanglenas", "one_shot")] == [12] * 5
    assert epochs("method=rarts", "trainer.epochs=30") == 30
    assert epochs("method=rarts", "preset=full") == epochs("method=darts", "preset=full") == 30
