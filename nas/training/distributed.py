"""Distributed: the ranks of a ``torchrun`` job, and what the training loop does across them.

Supernet training does not wrap the supernet in ``DistributedDataParallel``: a step trains several
children, each with its own backward, and DDP would all-reduce after every one of them and trip on the
parameters a child does not use. Instead every rank trains the same children (path samplers are a pure
function of (seed, step)) on its shard of the global batch, and after the step's last backward
``DistributedExecution`` all-reduces the gradients once, in one flat buffer per dtype, with a per-parameter
"used" count beside them: a parameter is averaged over the ranks that gave it a gradient, and one that no
rank used keeps ``grad None`` (weight decay and momentum leave it alone). The feedback that data-dependent
samplers observe is made global (``gather_feedback``), so every rank's sampler holds the same distribution,
and every ``check_every`` steps the ranks compare a hash of each step's children (``check_architectures``) and
of what the method must hold alike on every rank (its ``replicated_tensors``: architecture parameters, a
controller's state). A method's own cross-rank needs go through the execution: ``average`` (architecture
gradients taken outside an optimizer step, the same flat all-reduce), ``mean`` (ENAS' rewards), ``shard``.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from nas.architecture import Architecture
from nas.errors import ConfigError, DivergenceError, NASError
from nas.training.execution import Execution, resolve_device
from nas.training.feedback import StepFeedback

BACKENDS = ("auto", "gloo", "nccl")
"""``auto``: NCCL where CUDA is available, else gloo."""


class Distributed:
    """This process's place in a ``torchrun`` job (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``) and the collectives
    the training loop needs; outside ``torchrun`` it is one rank of one and every method is a no-op.

    Built from the environment torchrun sets; with more than one rank it joins the default process group
    (``backend``: ``auto``, ``gloo`` or ``nccl``) unless one is already initialised. ``check_every`` is the period
    (in steps) of the cross-rank architecture check; 0 switches it off.

    Example:
        >>> ranks = Distributed()                 # not under torchrun: one rank
        >>> ranks.world_size, ranks.rank, ranks.is_main, ranks.local_batch_size(256)
        (1, 0, True, 256)
        >>> ranks.shard(torch.arange(8)).tolist()
        [0, 1, 2, 3, 4, 5, 6, 7]
    """

    def __init__(self, backend: str = "auto", check_every: int = 50, timeout_minutes: float = 30.0):
        if backend not in BACKENDS:
            raise ConfigError(f"distributed backend must be one of {list(BACKENDS)}, got {backend!r}")
        if isinstance(check_every, bool) or int(check_every) != check_every or check_every < 0:
            raise ConfigError(f"check_every must be an integer >= 0 (0: no cross-rank check), got {check_every!r}")
        self.check_every = int(check_every)
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.backend = ("nccl" if torch.cuda.is_available() else "gloo") if backend == "auto" else backend
        self._hashes: list[tuple[int, int]] = []  # (step, hash) since the last check
        self._children: dict[int, str] = {}  # step -> this rank's children since the last check, for the error
        self._flat: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}  # gradient reduction buffers
        if not self.enabled:
            return
        if self.backend == "nccl" and not torch.cuda.is_available():
            raise ConfigError("trainer.distributed.backend=nccl needs CUDA, which is not available here: use "
                              "backend=gloo (or auto)")
        if dist.is_initialized():
            if dist.get_world_size() != self.world_size or dist.get_rank() != self.rank:
                raise ConfigError(f"the process group has {dist.get_world_size()} ranks (this is rank "
                                  f"{dist.get_rank()}), the environment says WORLD_SIZE={self.world_size} "
                                  f"RANK={self.rank}: initialise it from torchrun's environment")
            self.backend = dist.get_backend()
        else:
            if self.backend == "nccl":
                torch.cuda.set_device(self.local_rank)
            dist.init_process_group(self.backend, timeout=timedelta(minutes=float(timeout_minutes)))
            atexit.register(_destroy_process_group)  # the group is this object's: left cleanly at exit

    @property
    def enabled(self) -> bool:
        """More than one rank."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes checkpoints, logs and reports."""
        return self.rank == 0

    def __repr__(self) -> str:
        return f"Distributed(rank={self.rank}, world_size={self.world_size}, backend={self.backend!r})"

    # -- devices and data ---------------------------------------------------------------------------------------
    def device(self, device: str) -> torch.device:
        """``device`` resolved for this rank: CUDA means this rank's GPU (``cuda:LOCAL_RANK``)."""
        resolved = resolve_device(device)
        if self.enabled and resolved.type == "cuda":
            resolved = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(resolved)
        if self.enabled and self.backend == "nccl" and resolved.type != "cuda":
            raise ConfigError(f"trainer.device={device} trains on the CPU, and the NCCL backend reduces CUDA tensors "
                              "only: use trainer.distributed.backend=gloo")
        return resolved

    def execution(self, device: str = "auto", amp: bool = True) -> Execution:
        """The execution of this rank: plain with one rank, gradient-reducing (``DistributedExecution``) with more."""
        return DistributedExecution(self, device, amp) if self.enabled else Execution(device, amp)

    def local_batch_size(self, batch_size: int) -> int:
        """This rank's share of a global batch of ``batch_size``; refused unless every rank gets an equal share."""
        if batch_size % self.world_size:
            raise ConfigError(f"trainer.batch_size={batch_size} is the global batch and must split evenly over "
                              f"the {self.world_size} ranks: use a multiple of {self.world_size}")
        return batch_size // self.world_size

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a global batch (``local_batch_size`` examples); the concatenation over
        ranks, in rank order, is the global batch."""
        if not self.enabled:
            return indices
        size = self.local_batch_size(len(indices))
        return indices[self.rank * size:(self.rank + 1) * size]

    # -- collectives --------------------------------------------------------------------------------------------
    def _comm_device(self) -> torch.device:
        return torch.device("cuda", torch.cuda.current_device()) if self.backend == "nccl" else torch.device("cpu")

    def all_gather_cat(self, tensor: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """Every rank's ``tensor`` (equal shapes) concatenated along ``dim`` in rank order, on ``tensor``'s device."""
        if not self.enabled:
            return tensor
        local = tensor.detach().to(self._comm_device()).contiguous()
        parts = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(parts, local)
        return torch.cat(parts, dim).to(tensor.device)

    def mean(self, values: Sequence[float]) -> list[float]:
        """The mean over ranks of each of ``values``."""
        if not self.enabled:
            return [float(v) for v in values]
        tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(tensor)
        return (tensor / self.world_size).tolist()

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (any picklable object): rank 0 decides, the others follow."""
        if not self.enabled:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, device=self._comm_device() if self.backend == "nccl" else None)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    # -- gradients ----------------------------------------------------------------------------------------------
    def reduce_gradients(self, params: Sequence[nn.Parameter]) -> None:
        """Average the gradients of ``params`` over the ranks that used them, in one all-reduce per dtype
        (``average``): a parameter gets the mean gradient of the ranks that gave it one, or ``grad None`` when
        no rank did. Every rank must pass the same parameters in the same order.

        Example:
            >>> w = nn.Parameter(torch.ones(2)); w.grad = torch.full((2,), 3.0)
            >>> unused = nn.Parameter(torch.ones(1))
            >>> Distributed().reduce_gradients([w, unused])   # one rank: nothing to average
            >>> w.grad.tolist(), unused.grad
            ([3.0, 3.0], None)
        """
        if not self.enabled:
            return
        params = [p for p in params if p.requires_grad]
        for param, grad in zip(params, self.average([p.grad for p in params], like=params)):
            param.grad = grad

    def average(self, tensors: Sequence[torch.Tensor | None], like: Sequence[torch.Tensor] | None = None
                ) -> list[torch.Tensor | None]:
        """Each of ``tensors`` averaged over the ranks that hold it (not None), in one all-reduce per dtype and
        device: in place where this rank holds it, a new tensor shaped as ``like[i]`` where only other ranks do,
        None where no rank does. Each rank packs its tensors (zeros for None) and a held flag per tensor into one
        flat buffer; after the sum, tensor ``i`` is ``sum / count`` of the ``count`` ranks that held it. Every
        rank must pass tensors of the same shapes in the same order (``like``: the shapes, dtypes and devices;
        by default ``tensors`` themselves, then none may be None).

        Example:
            >>> Distributed().average([torch.ones(2), None], like=[torch.zeros(2), torch.zeros(3)])  # one rank
            [tensor([1., 1.]), None]
        """
        like = list(tensors) if like is None else list(like)
        if len(like) != len(tensors) or any(t is None for t in like):
            raise ValueError("average needs the shape of every tensor: pass like= for the ones that are None")
        if not self.enabled:
            return list(tensors)
        result: list[torch.Tensor | None] = list(tensors)
        groups: dict[tuple[torch.dtype, torch.device], list[int]] = {}
        for i, shape in enumerate(like):
            groups.setdefault((shape.dtype, shape.device), []).append(i)
        for (dtype, device), members in groups.items():
            sizes = [like[i].numel() for i in members]
            total = sum(sizes)
            flat = self._flat_buffer(dtype, device, total + len(members))
            offset = 0
            for i, size in zip(members, sizes):
                if tensors[i] is not None:
                    flat[offset:offset + size].copy_(tensors[i].reshape(-1))
                else:
                    flat[offset:offset + size].zero_()
                offset += size
            flat[total:].copy_(torch.tensor([tensors[i] is not None for i in members], dtype=dtype))
            reduced = flat.to(self._comm_device()) if self.backend == "nccl" and device.type != "cuda" else flat
            dist.all_reduce(reduced)
            flat = reduced.to(device)
            counts = flat[total:].tolist()
            everywhere = all(count == self.world_size for count in counts)
            if everywhere:  # the usual case (every rank used every tensor): one division
                flat[:total].div_(self.world_size)
            offset = 0
            for i, size, count in zip(members, sizes, counts):
                part = flat[offset:offset + size].view_as(like[i])
                offset += size
                if count == 0:
                    result[i] = None  # no rank holds it (a parameter no rank used keeps grad None)
                elif tensors[i] is None:
                    result[i] = part.clone() if everywhere else part / count
                else:
                    tensors[i].copy_(part)
                    if not everywhere:
                        tensors[i].div_(count)
        return result

    def _flat_buffer(self, dtype: torch.dtype, device: torch.device, size: int) -> torch.Tensor:
        """The reduction buffer of one dtype and device, kept from step to step (grown when the parameters do)."""
        buffer = self._flat.get((dtype, device))
        if buffer is None or buffer.numel() < size:
            buffer = self._flat[(dtype, device)] = torch.empty(size, dtype=dtype, device=device)
        return buffer[:size]

    def average_buffers(self, module: nn.Module) -> None:
        """Average ``module``'s floating-point buffers (BatchNorm running statistics) over the ranks, in place,
        so that every rank, and the checkpoint rank 0 writes, holds the same ones."""
        if not self.enabled:
            return
        buffers = [b for b in module.buffers() if b.is_floating_point()]
        if not buffers:
            return
        flat = torch.cat([b.detach().reshape(-1).to(self._comm_device(), torch.float64) for b in buffers])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for buffer in buffers:
            buffer.copy_(flat[offset:offset + buffer.numel()].view_as(buffer))
            offset += buffer.numel()

    # -- feedback -----------------------------------------------------------------------------------------------
    def gather_feedback(self, feedback: StepFeedback) -> StepFeedback:
        """The step's feedback over the global batch: indices, labels, logits and per-example losses of every
        rank concatenated in rank order (the global batch's order), per-child losses averaged over the ranks
        (equal shards: the global batch's mean loss). Gradient norms are measured after the gradient
        all-reduce, so they are already global. Only what the feedback holds is gathered."""
        if not self.enabled:
            return feedback
        changes: dict[str, Any] = {}
        if feedback.indices is not None:
            changes["indices"] = self.all_gather_cat(feedback.indices)
        if feedback.labels is not None:
            changes["labels"] = self.all_gather_cat(feedback.labels)
        for name in ("logits", "example_losses"):
            per_child = getattr(feedback, name)
            if per_child:
                stacked = self.all_gather_cat(torch.stack(per_child), dim=1)
                changes[name] = list(stacked.unbind(0))
        if feedback.losses is not None:
            changes["losses"] = self.mean(feedback.losses)
        return dataclasses.replace(feedback, **changes)

    # -- the cross-rank check -----------------------------------------------------------------------------------
    @staticmethod
    def architecture_hash(archs: Sequence[Architecture]) -> int:
        """A 63-bit hash of a step's children, in order (stable across processes, unlike ``hash``)."""
        digest = hashlib.sha256("|".join(str(a) for a in archs).encode()).digest()
        return int.from_bytes(digest[:8], "little") >> 1

    def check_architectures(self, step: int, archs: Sequence[Architecture],
                            replicated: Callable[[], Mapping[str, torch.Tensor]] | None = None,
                            force: bool = False) -> None:
        """Record the hash of ``step``'s children; every ``check_every`` steps (and with ``force``) compare the
        recorded hashes of all ranks, and the hash of each tensor ``replicated()`` gives (what every rank must
        hold bit-identical: a bilevel method's architecture parameters, a controller's state; asked for at the
        checks only), and raise ``DivergenceError`` naming the first step (or the tensors) and the ranks that
        differ. Every rank must call it at the same steps."""
        if not self.enabled or not self.check_every:
            return
        self._hashes.append((int(step), self.architecture_hash(archs)))
        self._children[int(step)] = ", ".join(str(a) for a in archs)
        if force or (step + 1) % self.check_every == 0:
            self.verify(replicated() if replicated is not None else None)

    def verify(self, replicated: Mapping[str, torch.Tensor] | None = None) -> None:
        """Compare the hashes recorded since the last check across ranks, then those of the ``replicated``
        tensors (see ``check_architectures``)."""
        if not self.enabled or not self.check_every:
            return
        steps = [s for s, _ in self._hashes]
        local = torch.tensor([[s, h] for s, h in self._hashes] or [[-1, 0]], dtype=torch.int64)
        count = torch.tensor([len(local)], dtype=torch.int64)
        counts = self.all_gather_cat(count)
        children, self._children = self._children, {}
        self._hashes.clear()
        if int(counts.min()) != int(counts.max()):
            raise DivergenceError(f"ranks checked different numbers of steps ({counts.tolist()} at step "
                                  f"{steps[-1] if steps else '?'}): they ran different loops")
        table = self.all_gather_cat(local.unsqueeze(0)).tolist()  # [rank][row][step, hash]
        for row in range(len(table[0])):
            entries = [table[r][row] for r in range(self.world_size)]
            if len({tuple(e) for e in entries}) > 1:
                by_hash: dict[tuple[int, int], list[int]] = {}
                for r, entry in enumerate(entries):
                    by_hash.setdefault(tuple(entry), []).append(r)
                groups = "; ".join(f"ranks {ranks}: step {key[0]}, children hash {key[1]:016x}"
                                   for key, ranks in by_hash.items())
                step = int(table[self.rank][row][0])
                raise DivergenceError(
                    f"ranks trained different children at step {entries[0][0]} ({groups}; rank {self.rank} trained "
                    f"{children.get(step, '?')}): every rank must pick the same children at a step, so a path "
                    "sampler must be a pure function of (seed, step) and of state all ranks share (all-reduced "
                    "feedback); the run stops rather than average the gradients of different children")
        if replicated:
            self._verify_replicated(replicated, steps[-1] if steps else None)

    def _verify_replicated(self, replicated: Mapping[str, torch.Tensor], step: int | None) -> None:
        """Raise ``DivergenceError`` unless every rank holds bit-identical ``replicated`` tensors."""
        names = list(replicated)
        local = torch.tensor([[tensor_hash(replicated[n]) for n in names]], dtype=torch.int64)
        table = self.all_gather_cat(local).tolist()  # [rank][tensor]
        differ = [i for i in range(len(names)) if len({table[r][i] for r in range(self.world_size)}) > 1]
        if not differ:
            return
        by_hash: dict[tuple[int, ...], list[int]] = {}
        for r in range(self.world_size):
            by_hash.setdefault(tuple(table[r][i] for i in differ), []).append(r)
        groups = "; ".join(f"ranks {ranks} {key[0]:016x}" for key, ranks in by_hash.items())
        shown = ", ".join(names[i] for i in differ[:4]) + (f" and {len(differ) - 4} more" if len(differ) > 4 else "")
        raise DivergenceError(
            f"ranks hold different {shown} after step {step if step is not None else '?'} (hash of "
            f"{names[differ[0]]}: {groups}): architecture parameters and a controller's state are updated from "
            "all-reduced gradients and rewards and must stay bit-identical on every rank; the run stops rather "
            "than end with a different architecture on each rank")

    # -- rank 0 owns the run folder ----------------------------------------------------------------------------
    @contextmanager
    def main_enters(self, context: Callable[[], AbstractContextManager]) -> Iterator[None]:
        """Enter ``context()`` (e.g. the run folder's claim) on rank 0 only; the other ranks wait for it and fail
        with rank 0's error when it fails, so a refused folder stops every rank with one clear line."""
        with ExitStack() as stack:
            problem, raised = None, None
            if self.is_main:
                try:
                    stack.enter_context(context())
                except Exception as exc:  # told to the other ranks, then raised here as it is
                    problem, raised = f"{type(exc).__name__}: {exc}", exc
            problem = self.broadcast_object(problem)
            if raised is not None:
                raise raised
            if problem is not None:
                raise _RankZeroFailed(f"rank 0 failed to start ({problem})")
            yield


def tensor_hash(tensor: torch.Tensor) -> int:
    """A 63-bit hash of ``tensor``'s bytes (dtype and shape included; stable across processes).

    Example:
        >>> one = tensor_hash(torch.ones(2))
        >>> one == tensor_hash(torch.ones(2)), one == tensor_hash(torch.ones(3)), one == tensor_hash(torch.zeros(2))
        (True, False, False)
    """
    data = tensor.detach().to("cpu").contiguous().reshape(-1)
    digest = hashlib.sha256(f"{data.dtype}{tuple(tensor.shape)}".encode())
    digest.update(data.view(torch.uint8).numpy().tobytes())
    return int.from_bytes(digest.digest()[:8], "little") >> 1


def state_tensors(state: Any, prefix: str) -> dict[str, torch.Tensor]:
    """The tensors and numbers of a nested ``state_dict()`` (dicts, lists, tuples) by their dotted path, numbers
    as float64 scalars: what a method's ``replicated_tensors`` hands the cross-rank check.

    Example:
        >>> sorted(state_tensors({"w": torch.ones(2), "opt": {"lr": 0.1, "moments": [torch.zeros(1)]}, "x": None}, "s"))
        ['s.opt.lr', 's.opt.moments.0', 's.w']
    """
    if torch.is_tensor(state):
        return {prefix: state}
    if isinstance(state, (bool, int, float)):
        return {prefix: torch.tensor(float(state), dtype=torch.float64)}
    items = state.items() if isinstance(state, Mapping) else enumerate(state) if isinstance(state, (list, tuple)) \
        else ()
    return {name: tensor for key, value in items for name, tensor in state_tensors(value, f"{prefix}.{key}").items()}


def _destroy_process_group() -> None:
    """Leave the process group at exit, after giving gloo's worker threads the GIL to finish their last work.

    A gloo worker thread destroys each collective's work item just after the caller's ``wait`` returns; when the
    Python tensor of that work is already gone, the destruction takes the GIL. If the process reaches interpreter
    finalization first (a rank that returns right after its last collective, on a loaded machine), that thread
    cannot take the GIL and the process aborts ("terminate called without an active exception", SIGABRT) although
    the run succeeded. Sleeping releases the GIL so the pending destructions run first.
    """
    if dist.is_initialized():
        time.sleep(_EXIT_GRACE_SECONDS)
        dist.destroy_process_group()
        time.sleep(_EXIT_GRACE_SECONDS)


_EXIT_GRACE_SECONDS = 0.1


class _RankZeroFailed(NASError):
    """What the other ranks raise when rank 0 could not claim the run folder (it prints the details itself)."""


class DistributedExecution(Execution):
    """The execution of one rank of several: as ``Execution``, on this rank's device, and before a method's
    optimizer step (``unscale_`` or ``step``, whichever comes first) the optimizer's gradients are all-reduced
    once (``Distributed.reduce_gradients``): after all of the step's children, not after each backward.
    ``shard``, ``mean`` and ``average`` are the ranks' (``Distributed``): a bilevel method averages its
    architecture gradients with ``average``, a controller method its rewards with ``mean``.

    Example:
        >>> execution = Distributed().execution("cpu")   # one rank: a plain Execution
        >>> type(execution).__name__
        'Execution'
    """

    def __init__(self, distributed: Distributed, device: str = "auto", amp: bool = True):
        self.distributed = distributed
        super().__init__(str(distributed.device(device)), amp)
        self._reduced: set[int] = set()  # optimizers whose gradients are reduced for the coming step

    @property
    def world_size(self) -> int:
        return self.distributed.world_size

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        return self.distributed.shard(indices)

    def mean(self, values: Sequence[float]) -> list[float]:
        return self.distributed.mean(values)

    def average(self, tensors: Sequence[torch.Tensor | None], like: Sequence[torch.Tensor] | None = None
                ) -> list[torch.Tensor | None]:
        return self.distributed.average(tensors, like)

    def reduce(self, optimizer: torch.optim.Optimizer) -> None:
        """All-reduce ``optimizer``'s gradients (once per optimizer step)."""
        if id(optimizer) in self._reduced:
            return
        self.distributed.reduce_gradients([p for group in optimizer.param_groups for p in group["params"]])
        self._reduced.add(id(optimizer))

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        self.reduce(optimizer)  # scaled gradients: every rank then sees the same infs
        super().unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        self.reduce(optimizer)
        self._reduced.discard(id(optimizer))
        super().step(optimizer)
