"""RecordedRanker: scores written by an earlier run (a supernet's benchmark scores), read back as a ranker."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from nas.architecture import Architecture
from nas.errors import ConfigError, RunFolderError
from nas.rankers.base import Ranker
from nas.run_folder import BenchmarkScore, RunFolder

_FORMATS = ("a run folder (its benchmark scores), an archived leaderboard run (leaderboard/runs/<row>/seed<i>.json) "
            "or `nas rank`'s scores/<ranker>.json")


def _read(path: Path) -> tuple[dict[str, float], float, str | None]:
    """(architecture string -> score, scoring seconds per child or nan, what the file says made it) of ``path``."""
    if path.is_dir():  # a run folder: the supernet's scores of the ground-truth cells
        try:
            rows = RunFolder(path).read_benchmark_scores()
        except RunFolderError as exc:
            raise ConfigError(str(exc)) from None
        if not rows:
            raise ConfigError(f"run folder {path} has no benchmark scores (its benchmark stage has not run): point "
                              f"`path` at {_FORMATS}")
        return {r.arch: r.supernet_accuracy for r in rows}, float("nan"), None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"recorded scores {path} are unreadable ({exc}): point `path` at {_FORMATS}") from None
    per_child, uses = float("nan"), None
    if isinstance(data, dict) and isinstance(data.get("scores"), dict):  # an archived run, or `nas rank`'s scores
        if data.get("child_evaluations"):
            per_child = float(data["scoring_seconds"]) / float(data["child_evaluations"])
        uses = data.get("uses")
        data = data["scores"]
    if isinstance(data, list):  # the rows of a run folder's benchmark scores
        try:
            data = {score.arch: score.supernet_accuracy for score in map(BenchmarkScore.from_json, data)}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ConfigError(f"{path} is a list but not of a run folder's benchmark-score rows "
                              "(arch, supernet_accuracy, truth)") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path} holds no architecture -> score mapping")
    return {str(a): float(s) for a, s in data.items()}, per_child, uses


class RecordedRanker(Ranker):
    """Scores read from a file: a run folder (its benchmark scores), an archived leaderboard run
    (``leaderboard/runs/<row>/seed<i>.json``), `nas rank`'s ``scores/<ranker>.json``, or a plain JSON
    ``{architecture string: score}``; or held in memory (:meth:`from_scores`).

    Lets a supernet that was trained once be combined with free rankers without retraining.
    ``seconds_per_child`` is the scoring time the file records (``nan`` when it has none); ``uses`` is
    what the file says made the scores (`nas rank`'s files say it), else the file's path.

    Example:
        >>> import json, tempfile, pathlib
        >>> from nas.architecture import Architecture
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "scores.json"
        >>> arch = Architecture({"a": 1})
        >>> _ = path.write_text(json.dumps({str(arch): 71.5}))
        >>> RecordedRanker(path, name="spos").score([arch])
        [71.5]
        >>> RecordedRanker.from_scores({str(arch): 3.0}, name="seed 0").score([arch])
        [3.0]
    """

    def __init__(self, path: str | Path, name: str | None = None, uses: str | None = None):
        self.path = Path(path)
        self.scores, self._per_child, recorded_uses = _read(self.path)
        self.name = name or self.path.stem
        self.uses = uses or recorded_uses or f"scores recorded in {self.path}"
        self._by_arch: dict[Architecture, float] = {}

    @classmethod
    def from_scores(cls, scores: Mapping[str, float], name: str, uses: str = "recorded scores",
                    seconds_per_child: float = math.nan) -> RecordedRanker:
        """A ranker over scores already in memory (architecture string -> score)."""
        ranker = cls.__new__(cls)
        ranker.path = Path(name)
        ranker.scores = {str(a): float(s) for a, s in scores.items()}
        ranker._per_child = float(seconds_per_child)
        ranker.name, ranker.uses = name, uses
        ranker._by_arch = {}
        return ranker

    def score(self, archs: Sequence[Architecture]) -> list[float]:
        known = self._by_arch  # str(arch) is slow: each architecture is looked up once
        for arch in archs:
            if arch not in known and str(arch) in self.scores:
                known[arch] = self.scores[str(arch)]
        missing = [str(a) for a in archs if a not in known]
        if missing:
            raise ConfigError(f"{self.path} has no score for {len(missing)} of the {len(archs)} architectures "
                              f"(first: {missing[0]}): record scores for the same table")
        return [known[a] for a in archs]

    @property
    def seconds_per_child(self) -> float:
        return self._per_child
