"""Export: the standalone child, its TorchScript and ONNX files compute what the supernet's child computes."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
import torch

import nas.export
from nas.data import synthetic
from nas.errors import ConfigError, InvalidArchitectureError
from nas.evaluator import Evaluator
from nas.export import (ExportError, accuracy, choose_child, inherited_model, load_model, recalibrate,
                        recalibration_images, write_export)
from nas.run_folder import ExportFolder, RankedChild
from search_spaces.elastic_conv import ElasticConvSearchSpace
from search_spaces.elastic_vit import ElasticViTSearchSpace
from search_spaces.nb201 import NB201SearchSpace
from supernets.split import split_supernet

onnxruntime = pytest.importorskip("onnxruntime")

DATA = synthetic(train_size=256, valid_size=128, test_size=64)  # 1 x 8 x 8 images, 4 classes

SPACES = {
    "nb201": (NB201SearchSpace, dict(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")),
    "nb201_no_affine": (NB201SearchSpace, dict(C=4, N=1, in_channels=1, num_classes=4, input_size=8,
                                               reduction="light", bn_affine=False)),
    "nb201_entangled": (NB201SearchSpace, dict(C=4, N=1, in_channels=1, num_classes=4, input_size=8,
                                               reduction="light", superposition=True)),  # TangleNAS' cell
    "elastic_conv": (ElasticConvSearchSpace, dict(in_channels=1, num_classes=4, input_size=8, stem_channels=4,
                                                  stem_stride=1, stage_channels=(4, 8), stage_strides=(1, 2),
                                                  depths=(1, 2), kernel_sizes=(3, 5), expand_ratios=(2, 3),
                                                  channel_divisor=2)),
    "elastic_vit": (ElasticViTSearchSpace, dict(in_channels=1, num_classes=4, input_size=8, patch_size=4,
                                                embed_dims=(16, 24), depths=(1, 2), num_heads=(1, 2),
                                                mlp_ratios=(2, 3), head_dim=8)),
}


def space_config(name: str) -> dict:
    cls, kwargs = SPACES[name]
    return {"_target_": f"{cls.__module__.rsplit('.', 1)[0]}.{cls.__name__}",
            **{k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}}


def trained_like(space, seed: int = 0):
    """A supernet whose weights and BatchNorm statistics are not the initial ones: a few training-mode passes."""
    torch.manual_seed(seed)
    supernet = space.build_supernet()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in supernet.parameters():
            p.add_(0.05 * torch.randn_like(p))
        supernet.train()
        for i in range(4):
            supernet(DATA.train.x[32 * i: 32 * (i + 1)], space.sample(rng))
    return supernet.eval()


@pytest.mark.parametrize("name", list(SPACES))
def test_every_exported_format_equals_the_supernets_child(name, tmp_path):
    cls, kwargs = SPACES[name]
    space = cls(**kwargs)
    supernet = trained_like(space)
    arch = space.sample(np.random.default_rng(3))
    x = DATA.valid.x[:16]
    with torch.no_grad():
        expected = supernet(x, arch)
    model = inherited_model(space, supernet, arch)
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-6)
    manifest = write_export(model, {"search_space": space_config(name), "arch": str(arch)}, x, tmp_path / "child")
    files = ExportFolder(tmp_path / "child")
    with torch.no_grad():
        torch.testing.assert_close(load_model(files.path)(x), expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(torch.jit.load(str(files.torchscript))(x), expected, rtol=0, atol=1e-6)
    session = onnxruntime.InferenceSession(str(files.onnx), providers=["CPUExecutionProvider"])
    batch = DATA.test.x[:5].numpy()  # another batch size than the traced one: the batch axis is dynamic
    onnx_out = torch.from_numpy(session.run(["logits"], {"images": batch})[0])
    with torch.no_grad():
        torch.testing.assert_close(onnx_out, supernet(DATA.test.x[:5], arch), rtol=1e-5, atol=1e-5)
    assert manifest.arch == str(arch) and manifest.input_shape == [1, 8, 8] and manifest.num_classes == 4
    assert max(manifest.max_abs_error.values()) < 1e-5
    assert json.loads(files.manifest.read_text())["arch"] == str(arch)


def test_a_few_shot_sub_supernets_child_is_exported_from_the_sub_supernet_that_owns_it(tmp_path):
    space = NB201SearchSpace(**SPACES["nb201"][1])
    parent = trained_like(space)
    split, _ = split_supernet(parent, "1<-0", [("none", "skip_connect"), ("nor_conv_1x1", "nor_conv_3x3",
                                                                          "avg_pool_3x3")])
    with torch.no_grad():  # make the two sub-supernets differ
        for p in split.leaves[1].parameters():
            p.mul_(1.5)
    split.eval()
    arch = space.make({**space.sample(np.random.default_rng(1)), "1<-0": "nor_conv_3x3"})
    x = DATA.valid.x[:8]
    model = inherited_model(space, split, arch)
    with torch.no_grad():
        torch.testing.assert_close(model(x), split.leaves[1](x, arch), rtol=0, atol=1e-6)
        assert not torch.allclose(model(x), split.leaves[0](x, arch))
    write_export(model, {"search_space": space_config("nb201"), "arch": str(arch)}, x, tmp_path / "fs")
    with torch.no_grad():
        torch.testing.assert_close(load_model(tmp_path / "fs")(x), split(x, arch), rtol=0, atol=1e-6)


def test_recalibrated_export_scores_what_the_evaluator_scores():
    space = ElasticConvSearchSpace(**SPACES["elastic_conv"][1])
    supernet = trained_like(space)
    evaluator = Evaluator(supernet, DATA.valid, DATA.train, valid_size=None, recalibration_batches=2,
                          recalibration_batch_size=64, seed=7, progress=False)
    assert [torch.equal(a, b) for a, b in zip(recalibration_images(DATA.train.x, 2, 64, 7),
                                              evaluator.recalibration)] == [True, True]
    for seed in range(3):
        arch = space.sample(np.random.default_rng(seed))
        model = recalibrate(inherited_model(space, supernet, arch), recalibration_images(DATA.train.x, 2, 64, 7))
        assert accuracy(model, DATA.valid.x, DATA.valid.y) == pytest.approx(evaluator.score(arch), abs=1e-9)


def test_choose_child_by_rank_or_arch_and_refuses_what_is_not_there():
    space = NB201SearchSpace(**SPACES["nb201"][1])
    archs = [str(space.sample(np.random.default_rng(s))) for s in range(3)]
    rows = [RankedChild(i + 1, a, 90.0 - i) for i, a in enumerate(archs)]
    assert choose_child(space, rows) == (space.parse(archs[0]), rows[0])
    assert choose_child(space, rows, rank=3) == (space.parse(archs[2]), rows[2])
    assert choose_child(space, rows, arch=archs[1])[1] is rows[1]
    outside = "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
    assert outside not in archs and choose_child(space, rows, arch=outside) == (space.parse(outside), None)
    with pytest.raises(ConfigError, match=r"rank=4 is beyond the ranking of 3 children; use rank between 1 and 3"):
        choose_child(space, rows, rank=4)
    with pytest.raises(InvalidArchitectureError):
        choose_child(space, rows, arch="|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(ConfigError, match="no ranked children"):
        choose_child(space, [])
    with pytest.raises(ConfigError, match="both name a child"):
        choose_child(space, rows, arch=archs[0], rank=1)


def test_a_failed_onnx_check_writes_nothing_and_keeps_the_previous_export(tmp_path, monkeypatch):
    space = NB201SearchSpace(**SPACES["nb201"][1])
    supernet = trained_like(space)
    arch = space.sample(np.random.default_rng(0))
    model = inherited_model(space, supernet, arch)
    config = {"search_space": space_config("nb201"), "arch": str(arch)}
    x = DATA.valid.x[:8]
    write_export(model, config, x, tmp_path / "child")
    before = {p.name: p.read_bytes() for p in (tmp_path / "child").iterdir()}
    real = nas.export._onnx_outputs
    monkeypatch.setattr(nas.export, "_onnx_outputs", lambda path, images: real(path, images) + 1e-3)
    with pytest.raises(ExportError, match=r"onnx model's outputs differ from PyTorch's by up to 0\.001"):
        write_export(model, config, x, tmp_path / "child")
    with pytest.raises(ExportError):
        write_export(model, config, x, tmp_path / "other")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["child"]  # no staging folder, no half-written "other"
    assert {p.name: p.read_bytes() for p in (tmp_path / "child").iterdir()} == before


def test_doctests():
    assert doctest.testmod(nas.export).failed == 0
