"""`supernet=mos` end to end, as a user runs it: `nas run` trains a Mixture-of-Supernets on either elastic space
(synthetic data, preset=smoke), `nas export` writes its best child with the routed weights materialised, and a
shared-weight space is refused before anything is written."""

from __future__ import annotations

import re

import pytest
import torch

from nas.checkpoint import load_checkpoint
from nas.run_folder import RunFolder
from tests.nas.cli.test_cli import SMOKE, nas


@pytest.mark.parametrize("space", ["elastic_vit", "elastic_conv"])
def test_run_then_export_a_mixture_of_supernets(tmp_path, space):
    folder = tmp_path / "run"
    done = nas("run", *SMOKE, f"search_space={space}", "supernet=mos", "search_space.mixture.experts=2",
               f"run_dir={folder}", cwd=tmp_path)
    assert done.returncode == 0, done.output[-3000:]
    state = load_checkpoint(RunFolder(folder).checkpoint)
    weights = state["supernet"]
    assert any(k.startswith("router.") for k in weights) and any(k.endswith(".experts") for k in weights)
    assert state["train_state"]["step"] == state["total_steps"] == 16
    exported = nas("export", f"run_dir={folder}", "threads=1", cwd=tmp_path)
    assert exported.returncode == 0, exported.output[-3000:]
    match = re.search(r"supernet accuracy ([0-9.]+)%, exported model ([0-9.]+)%", exported.stdout)
    assert match and match.group(1) == match.group(2), exported.stdout  # the routed weights, materialised
    assert "ONNX:" in exported.stdout
    child = torch.load(next((folder / "export").glob("rank1/model_state_dict.pt")))
    assert not any("router" in k or "experts" in k for k in child)  # a plain network


def test_mixture_on_a_shared_weight_space_is_refused_before_anything_is_written(tmp_path):
    done = nas("train", *SMOKE, "supernet=mos", f"run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 2, done.output[-3000:]
    assert "NB201SearchSpace builds no Mixture-of-Supernets" in done.stderr
    assert "drop supernet=mos, or use search_space=elastic_conv | elastic_vit" in done.stderr
    assert not [p for p in (tmp_path / "run").rglob("*") if p.is_file()]  # (Hydra may have made the empty folder)
