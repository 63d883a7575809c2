"""The fast CPU avg_pool_3x3: PyTorch's values and gradients bit for bit, nothing saved, PyTorch's kernel where
graphs are traced or exported."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from search_spaces.nb201 import pooling
from search_spaces.nb201.ops import make_op
from search_spaces.nb201.pooling import AvgPool3x3, avg_pool_3x3, avg_pool_3x3_transposed, window_sum_3x3

SHAPES = [(3, 2, 16, 16), (2, 4, 8, 8), (1, 3, 4, 5), (2, 1, 2, 2), (2, 3, 1, 4), (5, 7, 3), (37, 4, 4)]


def reference(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


@pytest.mark.parametrize("chunk_bytes", [pooling.CHUNK_BYTES, 700])   # 700 bytes: many chunks, a short last one
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_values_and_gradients_are_pytorchs_bit_for_bit(shape, dtype, chunk_bytes, monkeypatch):
    monkeypatch.setattr(pooling, "CHUNK_BYTES", chunk_bytes)
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=dtype, requires_grad=True)
    grad = torch.randn(*shape, dtype=dtype)
    fast, = torch.autograd.grad(avg_pool_3x3(x), x, grad)
    slow, = torch.autograd.grad(reference(x), x, grad)
    assert torch.equal(avg_pool_3x3(x), reference(x))
    assert torch.equal(fast, slow) and torch.equal(avg_pool_3x3_transposed(grad), slow)
    assert avg_pool_3x3(x).is_contiguous() and fast.is_contiguous()   # as PyTorch's: later sums add up alike


def test_gradcheck_and_a_hand_computed_window():
    x = torch.randn(2, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(avg_pool_3x3, (x,))
    x = torch.arange(12.0).reshape(1, 1, 3, 4)   # rows 0-3, 4-7, 8-11
    out = avg_pool_3x3(x)[0, 0]
    assert out[0, 0] == (0 + 1 + 4 + 5) / 4                      # a corner: 4 positions inside the image
    assert out[1, 1] == (0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9  # all 9
    assert out[2, 3] == (6 + 7 + 10 + 11) / 4
    assert window_sum_3x3(x)[0, 0, 1, 0] == 0 + 1 + 4 + 5 + 8 + 9


def test_the_backward_pass_keeps_no_tensor():
    saved = []
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.shape) or t, lambda t: t):
        avg_pool_3x3(x).sum().backward()
    assert saved == []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.shape) or t, lambda t: t):
        reference(x).sum()
    assert saved == [x.shape]   # PyTorch's own keeps the input


def test_traced_graphs_use_pytorchs_kernel_and_the_op_is_the_module():
    model = AvgPool3x3()
    graph = str(torch.jit.trace(model, torch.randn(1, 2, 6, 6)).graph)
    assert "avg_pool2d" in graph
    assert model.state_dict() == {} and isinstance(make_op("avg_pool_3x3", 4), AvgPool3x3)


def test_a_window_summed_in_another_order_is_caught(monkeypatch):
    """Bit-for-bit equality fails for the same sums taken column-major (a separable box sum fails the same way)."""
    def column_major(x):
        height, width = x.shape[-2:]
        padded = F.pad(x, (1, 1, 1, 1))
        total = torch.zeros_like(x)
        for dx in range(3):
            for dy in range(3):
                total = total + padded[..., dy:dy + height, dx:dx + width]
        return total

    monkeypatch.setattr(pooling, "_window_sum_view", column_major)
    x = torch.randn(8, 4, 8, 8)
    assert torch.allclose(avg_pool_3x3(x), reference(x), atol=1e-6) and not torch.equal(avg_pool_3x3(x), reference(x))


@pytest.mark.parametrize("method", ["darts", "gdas"])
def test_training_with_it_gives_the_same_bits_as_pytorchs_kernel(method, tmp_path, monkeypatch):
    """Six steps of a gradient-based search on a small NB201 cell: every weight, architecture logit and optimizer
    state equal to training with ``F.avg_pool2d`` (a window summed column-major fails this; so did, on FMNIST-201,
    returning the gradient as a strided view: GDAS' logits then differed by 1e-7 after six steps)."""
    from hydra import compose, initialize_config_dir

    from nas.cli.common import CONF_DIR
    from nas.pipeline import setup, train_stage

    def trained(pool, folder):
        monkeypatch.setattr(pooling, "avg_pool_3x3", pool)
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            cfg = compose("run", overrides=[f"method={method}", "preset=smoke", "trainer.max_steps=6",
                                            "trainer.batch_size=32", "progress=false", "threads=1"])
        data, space = setup(cfg)
        return train_stage(cfg, folder, data, space).method.state_dict()

    def tensors(state, prefix=""):
        if isinstance(state, torch.Tensor):
            yield prefix, state
        elif isinstance(state, dict):
            for key, value in state.items():
                yield from tensors(value, f"{prefix}.{key}")
        elif isinstance(state, (list, tuple)):
            for i, value in enumerate(state):
                yield from tensors(value, f"{prefix}[{i}]")

    fast = dict(tensors(trained(avg_pool_3x3, tmp_path / "fast")))
    native = dict(tensors(trained(reference, tmp_path / "native")))
    assert fast.keys() == native.keys() and len(fast) > 50
    assert [k for k in fast if not torch.equal(fast[k], native[k])] == []
