"""Progress output: a tqdm bar on a terminal; in logs a few lines, never one per step."""

from __future__ import annotations

import doctest
import io
import itertools
import subprocess
import sys

from tqdm import tqdm

import nas.progress
from nas.progress import LogProgress, progress_bar, track


def test_ten_thousand_updates_without_a_terminal_write_a_dozen_lines_at_most(tmp_path):
    log = tmp_path / "stderr.log"
    script = ("from nas.progress import progress_bar\n"
              "with progress_bar(10_000, 'supernet', unit='step') as bar:\n"
              "    for i in range(10_000):\n"
              "        bar.update(1)\n"
              "        bar.set_postfix(loss=f'{1 / (i + 1):.3f}')\n")
    with log.open("w") as stderr:
        done = subprocess.run([sys.executable, "-c", script], stderr=stderr, timeout=120)
    assert done.returncode == 0
    lines = log.read_text().splitlines()
    assert 2 <= len(lines) <= 12, lines
    assert "\r" not in log.read_text()
    assert lines[0].startswith("supernet:   0% 0/10000 step") and lines[-1].startswith("supernet: 100% 10000/10000")


def test_lines_come_at_the_rarer_of_every_30_seconds_and_every_tenth():
    out = io.StringIO()
    clock = itertools.count(0.0, 1.0).__next__  # one second per step
    with LogProgress(1_000, "searching", unit="child", file=out, clock=clock) as bar:  # 10% = 100 s
        for _ in range(1_000):
            bar.update(1)
    lines = out.getvalue().splitlines()
    assert [line.split(" [")[0] for line in lines] == [
        f"searching: {p:3d}% {n}/1000 child" for p, n in [(0, 0), *((k * 10, k * 100) for k in range(1, 10)),
                                                         (100, 1000)]]
    out = io.StringIO()
    slow = itertools.count(0.0, 10.0).__next__  # ten seconds per step: 30 s come every 3 steps, 10% every 100
    with LogProgress(1_000, "x", file=out, clock=slow) as bar:
        for _ in range(1_000):
            bar.update(1)
    assert len(out.getvalue().splitlines()) == 11  # still one line per tenth, not one per 30 s


def test_a_resumed_bar_counts_from_its_initial_value_and_shows_the_postfix():
    out = io.StringIO()
    clock = itertools.count(0.0, 40.0).__next__
    bar = LogProgress(10, "supernet", unit="step", initial=5, file=out, clock=clock)
    bar.set_postfix(loss="0.512", acc="81.0%")
    bar.update(1)
    bar.write("resumed from last.pt")
    bar.close()
    bar.close()  # closing twice writes nothing more
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("supernet:  50% 5/10 step")
    assert lines[1].startswith("supernet:  60% 6/10 step") and lines[1].endswith(", loss=0.512, acc=81.0%]")
    assert lines[2] == "resumed from last.pt" and len(lines) == 3


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_tqdm_and_disabled_progress_prints_nothing(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    bar = progress_bar(3, "scoring", unit="child")
    assert isinstance(bar, tqdm)
    bar.close()
    monkeypatch.undo()
    assert list(track(["a", "b"], "scoring", enabled=False)) == ["a", "b"]
    with progress_bar(3, "scoring", enabled=False) as quiet:
        quiet.update(3)
        quiet.set_postfix(loss=1.0)
    assert quiet.n == 3 and capsys.readouterr().err == ""


def test_docstring_examples():
    result = doctest.testmod(nas.progress)
    assert result.failed == 0 and result.attempted > 0
