"""Surrogates: regressors from an architecture's encoding to its score, for model-based searchers (EPNAS)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from nas.errors import ConfigError


class Surrogate(ABC):
    """``fit(x, y)`` on encodings (n, d) and scores (n,); ``predict(x)`` scores (m,). Fitting is deterministic
    (a searcher refits it from its history, so the fit is a function of the history and the seed)."""

    @abstractmethod
    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        """Fit on encodings ``x`` and scores ``y`` (replacing any earlier fit)."""

    @abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted scores of encodings ``x``."""


class MLPSurrogate(Surrogate):
    """A small multilayer perceptron (ReLU ``hidden`` layers) trained full-batch with Adam for ``epochs`` on
    standardised scores, re-initialised from ``seed`` at every fit.

    Example:
        >>> x = np.eye(4)[[0, 1, 2, 3, 0, 1]]
        >>> surrogate = MLPSurrogate(hidden=(16,), epochs=300)
        >>> surrogate.fit(x, np.array([0.1, 0.2, 0.3, 0.9, 0.1, 0.2]))
        >>> int(np.argmax(surrogate.predict(np.eye(4))))
        3
    """

    def __init__(self, hidden: Sequence[int] = (64,), epochs: int = 200, lr: float = 0.01,
                 weight_decay: float = 1e-4, seed: int = 0):
        if any(int(h) < 1 for h in hidden) or int(epochs) < 1 or not float(lr) > 0 or not float(weight_decay) >= 0:
            raise ConfigError(f"the MLP surrogate needs hidden sizes >= 1, epochs >= 1, lr > 0 and weight_decay >= 0, "
                              f"got hidden={list(hidden)}, epochs={epochs}, lr={lr}, weight_decay={weight_decay}")
        self.hidden, self.epochs = [int(h) for h in hidden], int(epochs)
        self.lr, self.weight_decay, self.seed = float(lr), float(weight_decay), int(seed)
        self.model: nn.Module | None = None
        self.mean, self.std = 0.0, 1.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        inputs = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        target = torch.as_tensor(np.asarray(y), dtype=torch.float32)
        self.mean, self.std = float(target.mean()), float(target.std()) if len(target) > 1 else 1.0
        self.std = self.std if self.std > 0 else 1.0
        target = (target - self.mean) / self.std
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            layers: list[nn.Module] = []
            width = inputs.shape[1]
            for h in self.hidden:
                layers += [nn.Linear(width, h), nn.ReLU()]
                width = h
            self.model = nn.Sequential(*layers, nn.Linear(width, 1))
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            loss = torch.mean((self.model(inputs).squeeze(1) - target) ** 2)
            loss.backward()
            optimizer.step()

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("fit the surrogate before predicting")
        with torch.no_grad():
            out = self.model(torch.as_tensor(np.asarray(x), dtype=torch.float32)).squeeze(1)
        return out.double().numpy() * self.std + self.mean


class RidgeSurrogate(Surrogate):
    """Ridge regression with an intercept (closed form): an additive model of the encoding's features.

    Example:
        >>> surrogate = RidgeSurrogate(alpha=1e-6)
        >>> surrogate.fit(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 2.0, 3.0]))
        >>> np.round(surrogate.predict(np.array([[1.0, 1.0]])), 4).tolist()
        [3.0]
    """

    def __init__(self, alpha: float = 1.0):
        if not float(alpha) >= 0:
            raise ConfigError(f"the ridge surrogate needs alpha >= 0, got {alpha}")
        self.alpha = float(alpha)
        self.weights: np.ndarray | None = None
        self.intercept = 0.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        x, y = np.asarray(x, float), np.asarray(y, float)
        mean_x, self.intercept = x.mean(0), float(y.mean())
        centred = x - mean_x
        gram = centred.T @ centred + self.alpha * np.eye(x.shape[1])
        self.weights = np.linalg.lstsq(gram, centred.T @ (y - self.intercept), rcond=None)[0]
        self.intercept -= float(mean_x @ self.weights)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.weights is None:
            raise RuntimeError("fit the surrogate before predicting")
        return np.asarray(x, float) @ self.weights + self.intercept
