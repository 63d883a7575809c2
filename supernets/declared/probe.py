"""Probing a declared supernet: run the children that exercise every option once, on one example.

A probe finds what a declaration gets wrong before anything trains (an option whose modules cannot run,
a child that cannot be exported, a decision the network never reads) and records what each layer's calls
cost, from which FLOPs follow for any architecture without running it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from nas.architecture import Architecture, Option
from supernets.declared.macs import CallRecorder
from supernets.declared.places import Place
from supernets.declared.supernet import DeclaredSupernet

MAX_PROBLEMS = 8


@dataclass
class ProbeReport:
    """What probing found: problems (one line each), the output shape, and each layer's calls by module path
    (``None`` when some layer's calls depend on the architecture beyond its declared sizes)."""

    problems: list[str] = field(default_factory=list)
    output_shape: tuple[int, ...] | None = None
    calls: dict[str, tuple[int, ...]] | None = None


def probe_architectures(decisions: Mapping[str, Sequence[Option]], places: Sequence[Place], largest: Architecture,
                        smallest: Architecture) -> list[tuple[str, Architecture]]:
    """(label, architecture) for the largest and smallest children and, for every option of every decision a
    place reads, the largest child with the place made to run (its conditions met) and that option taken."""
    probes: dict[Architecture, str] = {largest: "the largest child", smallest: "the smallest child"}
    for place in places:
        for name, options in place.module.decision_options().items():
            for option in options:
                choices = dict(largest)
                for condition in place.conditions:
                    choices[condition.decision] = (max(decisions[condition.decision]) if condition.at_least
                                                   else condition.option)
                choices[name] = option
                probes.setdefault(Architecture(choices), f"option {option!r} of decision {name!r}")
    return [(label, arch) for arch, label in probes.items()]


@torch.no_grad()
def probe(supernet: DeclaredSupernet, probes: Sequence[tuple[str, Architecture]],
          input_shape: Sequence[int]) -> ProbeReport:
    """Run every probe on one zero example (eval mode), then its exported child; see :class:`ProbeReport`."""
    report = ProbeReport()
    paths = {id(m): name for name, m in supernet.network.named_modules()}
    recorder = CallRecorder(supernet.network)
    calls: dict[str, tuple[int, ...]] = {}
    consistent = True
    reads: set[str] = set()
    failed: list[tuple[str, Architecture, str]] = []
    passed: list[Architecture] = []
    x = torch.zeros(1, *input_shape)
    supernet.eval()
    try:
        for label, arch in probes:
            supernet.context.reads = set()
            try:
                out = supernet(x, arch)
            except Exception as exc:  # the author's modules: report, never crash the check
                failed.append((label, arch, _line(exc)))
                recorder.take()
                continue
            finally:
                reads |= supernet.context.reads
                supernet.context.reads = None
            passed.append(arch)
            for module_id, values in recorder.take().items():
                path = paths.get(module_id, str(module_id))
                if calls.setdefault(path, values) != values:
                    consistent = False
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
            if shape is None:
                _add(report, f"{label} returns a {type(out).__name__}, not a tensor of logits")
                continue
            if report.output_shape is None:
                report.output_shape = shape
            elif shape != report.output_shape:
                _add(report, f"{label} gives outputs of shape {shape[1:]}, other children {report.output_shape[1:]}: "
                             "every child must give one logit per class")
            try:
                child_shape = tuple(supernet.subnet(arch).eval()(x).shape)
            except Exception as exc:
                _add(report, f"{label} runs in the supernet but its exported child does not: {_line(exc)}")
                continue
            if child_shape != shape:
                _add(report, f"{label}: the exported child gives outputs of shape {child_shape[1:]}, the supernet "
                             f"{shape[1:]}")
    finally:
        recorder.close()
    if failed and not passed:
        label, arch, error = failed[0]
        _add(report, f"no child runs on an example of input_shape {tuple(input_shape)} ({label}: {error}); "
                     "make network() take inputs of that shape")
    for problem in _failures(failed, passed) if passed else ():
        _add(report, problem)
    for name in supernet.decisions:
        if name not in reads and not report.problems:
            where = [p.path for p in supernet.places if name in p.module.decision_options()]
            _add(report, f"decision {name!r} (declared at {', '.join(where)}) is never read: the network's "
                         "forward() never calls that module; call it in forward(), or remove the decision")
    report.calls = calls if consistent and not report.problems else None
    return report


def _failures(failed: Sequence[tuple[str, Architecture, str]], passed: Sequence[Architecture]) -> list[str]:
    """One line per cause: an option every probe that takes it fails on, and no probe that runs takes it, is
    named as the option that cannot run; failures no such option explains are named by their child."""
    taken_by_passed = {(d, o) for arch in passed for d, o in arch.items()}
    culprits: dict[tuple[str, Option], str] = {}
    for label, arch, error in failed:
        for pair in arch.items():
            if pair not in taken_by_passed:
                culprits.setdefault(pair, error)
    for label, arch, error in failed:  # prefer the error of the probe made for that very option
        for pair in arch.items():
            if pair in culprits and label == f"option {pair[1]!r} of decision {pair[0]!r}":
                culprits[pair] = error
    lines = [f"option {o!r} of decision {d!r} cannot run: {error}; fix the modules of that option (or drop it)"
             for (d, o), error in culprits.items()]
    for label, arch, error in failed:
        if not any(pair in culprits for pair in arch.items()):
            lines.append(f"the child {arch} ({label}) cannot run: {error}; fix the modules it runs")
    return lines


def _add(report: ProbeReport, problem: str) -> None:
    if problem not in report.problems and len(report.problems) < MAX_PROBLEMS:
        report.problems.append(problem)


def _line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")
