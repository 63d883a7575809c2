"""Choice: a decision among modules with shared weights (one module per option, the child runs its own)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from torch import nn

from nas.architecture import Option
from nas.errors import ConfigError, InvalidArchitectureError, NASError
from supernets.declared.module import Condition, DeclaredModule
from supernets.declared.sizes import Choose

_SCALARS = (str, int, float, bool)


class Choice(DeclaredModule):
    """One module per option of ``decision``; the supernet runs the chosen one, a child keeps only it.

    Give the options as a mapping option -> module, or as a sequence of options and ``build(option)``
    (then an option that cannot be built is named in the error). Every child that picks an option
    trains that option's module: weights are shared between children, not between options (SPOS,
    NAS-Bench-201). Options may hold further declared places (a Choice inside a Choice).

    Example:
        >>> import torch
        >>> from supernets.declared import DeclaredSupernet
        >>> act = Choice("act", {"relu": nn.ReLU(), "tanh": nn.Tanh()})
        >>> supernet = DeclaredSupernet(nn.Sequential(nn.Linear(2, 2), act))
        >>> x = torch.randn(3, 2)
        >>> torch.equal(supernet(x, {"act": "tanh"}), supernet.subnet({"act": "tanh"})(x))
        True
        >>> supernet.subnet({"act": "relu"})[1]
        ReLU()
    """

    def __init__(self, decision: str, options: Mapping[Option, nn.Module] | Sequence[Option],
                 build: Callable[[Option], nn.Module] | None = None):
        super().__init__()
        if not isinstance(decision, str) or not decision:
            raise ConfigError(f"a Choice needs a non-empty decision name, got {decision!r}")
        if isinstance(options, Mapping):
            if build is not None:
                raise ConfigError(f"Choice {decision!r}: give either a mapping option -> module or options and "
                                  "build(option), not both")
            names, modules = list(options.keys()), list(options.values())
        else:
            if build is None:
                raise ConfigError(f"Choice {decision!r}: options {list(options)} need build(option) -> module, "
                                  "or give a mapping option -> module")
            names, modules = list(options), [_build(decision, o, build) for o in options]
        if not names:
            raise ConfigError(f"Choice {decision!r} has no options")
        for name, module in zip(names, modules):
            if isinstance(name, bool) or not isinstance(name, _SCALARS):
                raise ConfigError(f"Choice {decision!r}: option {name!r} must be a str, int or float")
            if not isinstance(module, nn.Module):
                raise ConfigError(f"Choice {decision!r}: option {name!r} is a {type(module).__name__}, not an "
                                  "nn.Module")
        if len(set(names)) != len(names):
            raise ConfigError(f"Choice {decision!r} has repeated options {names}")
        self.decision, self.options = decision, tuple(names)
        self.ops = nn.ModuleList(modules)
        self._index = {name: i for i, name in enumerate(names)}

    def index(self, option: Option) -> int:
        try:
            return self._index[option]
        except (KeyError, TypeError):
            raise InvalidArchitectureError(f"decision {self.decision!r} has no option {option!r}; "
                                           f"options are {list(self.options)}") from None

    def forward(self, *args, **kwargs):
        return self.ops[self.index(self.choose(self.decision))](*args, **kwargs)

    def decision_options(self) -> dict[str, tuple[Option, ...]]:
        return {self.decision: self.options}

    def guarded_children(self) -> Iterator[tuple[str, nn.Module, Condition | None]]:
        for i, (option, module) in enumerate(zip(self.options, self.ops)):
            yield f"ops.{i}", module, Condition(self.decision, option)

    def active_children(self, choose: Choose) -> list[nn.Module]:
        return [self.ops[self.index(choose(self.decision))]]

    def export(self, choose: Choose, export_child, fresh: bool) -> nn.Module:
        return export_child(self.ops[self.index(choose(self.decision))])

    def option_modules(self) -> dict[Option, nn.Module]:
        return dict(zip(self.options, self.ops))

    def extra_repr(self) -> str:
        return f"decision={self.decision!r}, options={list(self.options)}"


def _build(decision: str, option: Option, build: Callable[[Option], nn.Module]) -> nn.Module:
    try:
        return build(option)
    except NASError:
        raise
    except Exception as exc:  # the author's module code: name the option that fails
        raise ConfigError(f"option {option!r} of decision {decision!r} cannot be built: {type(exc).__name__}: "
                          f"{_first_line(exc)}; fix build({option!r}) or drop the option") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""
