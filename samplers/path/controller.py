"""LSTMController: ENAS's policy, an LSTM that emits one decision of an architecture at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from nas.architecture import Option
from nas.errors import ConfigError


@dataclass
class Rollout:
    """A batch of architectures as the controller saw them: ``choices`` (batch, decisions) option indices,
    ``log_prob`` and ``entropy`` (batch,) summed over the decisions (differentiable), and ``hidden``
    (batch, decisions, hidden size): the top LSTM layer's hidden state after each decision was fed back."""

    choices: torch.Tensor
    log_prob: torch.Tensor
    entropy: torch.Tensor
    hidden: torch.Tensor


class LSTMController(nn.Module):
    """An autoregressive policy over the decisions of a search space (ENAS, Pham et al. 2018).

    A learned start input enters a ``num_layers``-layer LSTM; at decision ``i`` the top hidden state goes
    through decision ``i``'s linear head to logits over its options, which become ``tanh_constant *
    tanh(logits / temperature)`` (ENAS' sampling temperature and tanh squashing; ``tanh_constant=None``:
    logits / temperature only); the chosen option's embedding is the next input. ``forward(n, generator)``
    samples ``n`` architectures; ``forward(choices=...)`` scores given ones (teacher forcing), which is what
    REINFORCE differentiates. ``sampling_temperature`` divides those (squashed) logits once more: 1 is the policy
    as trained, below 1 sharper, above 1 flatter (``nas.searchers.ControllerSearch``'s temperature).

    Example:
        >>> controller = LSTMController({"a": ["x", "y"], "b": [1, 2, 3]}, hidden_size=8)
        >>> rollout = controller(4, generator=torch.Generator().manual_seed(0))
        >>> tuple(rollout.choices.shape), tuple(rollout.hidden.shape)
        ((4, 2), (4, 2, 8))
        >>> again = controller(choices=rollout.choices)
        >>> bool(torch.allclose(again.log_prob, rollout.log_prob))
        True
    """

    def __init__(self, decisions: Mapping[str, Sequence[Option]], hidden_size: int = 64, num_layers: int = 1,
                 temperature: float = 5.0, tanh_constant: float | None = 2.5):
        super().__init__()
        if int(hidden_size) < 1 or int(num_layers) < 1:
            raise ConfigError(f"the controller needs hidden_size >= 1 and num_layers >= 1, got {hidden_size} and "
                              f"{num_layers}")
        if not float(temperature) > 0 or (tanh_constant is not None and not float(tanh_constant) > 0):
            raise ConfigError(f"the controller's temperature and tanh_constant must be > 0 (tanh_constant may be "
                              f"null), got {temperature} and {tanh_constant}")
        self.names = list(decisions)
        self.sizes = [len(decisions[name]) for name in self.names]
        self.hidden_size, self.num_layers = int(hidden_size), int(num_layers)
        self.temperature = float(temperature)
        self.tanh_constant = None if tanh_constant is None else float(tanh_constant)
        self.start = nn.Parameter(torch.empty(1, self.hidden_size).uniform_(-0.1, 0.1))
        self.cells = nn.ModuleList(nn.LSTMCell(self.hidden_size, self.hidden_size) for _ in range(self.num_layers))
        self.heads = nn.ModuleList(nn.Linear(self.hidden_size, size) for size in self.sizes)
        self.embeddings = nn.ModuleList(nn.Embedding(size, self.hidden_size) for size in self.sizes)
        for parameter in self.parameters():  # ENAS initialises every controller weight uniformly in [-0.1, 0.1]
            nn.init.uniform_(parameter, -0.1, 0.1)

    def logits(self, hidden: torch.Tensor, index: int) -> torch.Tensor:
        """Decision ``index``'s logits from the top hidden state (after temperature and tanh)."""
        logits = self.heads[index](hidden) / self.temperature
        return self.tanh_constant * torch.tanh(logits) if self.tanh_constant is not None else logits

    def forward(self, n: int | None = None, generator: torch.Generator | None = None,
                choices: torch.Tensor | None = None, sampling_temperature: float = 1.0) -> Rollout:
        if choices is None and n is None:
            raise ValueError("give the number of architectures to sample, or the choices to score")
        if not float(sampling_temperature) > 0:
            raise ValueError(f"sampling_temperature must be > 0, got {sampling_temperature}")
        batch = int(n) if choices is None else int(choices.shape[0])
        inputs = self.start.expand(batch, -1)
        state = [(inputs.new_zeros(batch, self.hidden_size), inputs.new_zeros(batch, self.hidden_size))
                 for _ in self.cells]
        picked, log_probs, entropies, hiddens = [], [], [], []
        for index in range(len(self.names)):
            x = inputs
            for layer, cell in enumerate(self.cells):
                state[layer] = cell(x, state[layer])
                x = state[layer][0]
            logits = self.logits(x, index)
            if sampling_temperature != 1.0:  # 1: bit for bit the policy as trained
                logits = logits / float(sampling_temperature)
            log_p = torch.log_softmax(logits, dim=-1)
            if choices is None:
                with torch.no_grad():
                    chosen = torch.multinomial(log_p.exp(), 1, generator=generator).squeeze(1)
            else:
                chosen = choices[:, index].long()
            picked.append(chosen)
            log_probs.append(log_p.gather(1, chosen[:, None]).squeeze(1))
            entropies.append(-(log_p.exp() * log_p).sum(-1))
            inputs = self.embeddings[index](chosen)
            hiddens.append(x)
        x = inputs  # one more step: the state that has seen the whole architecture
        for layer, cell in enumerate(self.cells):
            x = cell(x, state[layer])[0]
        hiddens = hiddens[1:] + [x]
        return Rollout(torch.stack(picked, 1), torch.stack(log_probs, 1).sum(1), torch.stack(entropies, 1).sum(1),
                       torch.stack(hiddens, 1))

    def mode(self) -> list[int]:
        """The greedy architecture: the most likely option at every decision, each fed back."""
        with torch.no_grad():
            inputs = self.start
            state = [(inputs.new_zeros(1, self.hidden_size), inputs.new_zeros(1, self.hidden_size))
                     for _ in self.cells]
            out = []
            for index in range(len(self.names)):
                x = inputs
                for layer, cell in enumerate(self.cells):
                    state[layer] = cell(x, state[layer])
                    x = state[layer][0]
                chosen = self.logits(x, index).argmax(-1)
                out.append(int(chosen))
                inputs = self.embeddings[index](chosen)
            return out
