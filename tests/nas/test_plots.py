"""nas.plots: the any-time curves break where epochs are missing instead of bridging them."""

from __future__ import annotations

import doctest
import math

import nas.plots
from nas.plots import anytime_curves, break_gaps


def test_break_gaps_inserts_one_nan_per_gap():
    xs, ys = break_gaps([1, 2, 3, 7, 8, 20], [10.0, 11.0, 12.0, 13.0, 14.0, 15.0])
    assert [math.isnan(x) for x in xs] == [False, False, False, True, False, False, True, False]
    assert [y for y in ys if not math.isnan(y)] == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    assert [x for x in xs if not math.isnan(x)] == [1, 2, 3, 7, 8, 20]


def test_break_gaps_keeps_a_regular_curve_and_single_points():
    assert break_gaps([3, 6, 9], [1.0, 2.0, 3.0]) == ([3, 6, 9], [1.0, 2.0, 3.0])
    assert break_gaps([5], [80.0]) == ([5], [80.0])
    assert break_gaps([], []) == ([], [])


def test_anytime_plot_draws_broken_lines(tmp_path, monkeypatch):
    import matplotlib.axes

    drawn = []
    original = matplotlib.axes.Axes.plot

    def spy(self, *args, **kwargs):
        drawn.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    target = anytime_curves([("darts", [([1, 4, 5], [10.0, 85.0, 86.0])])], 87.5, tmp_path / "anytime.png")
    assert target.read_bytes()[:4] == b"\x89PNG"
    xs, ys = drawn[0]
    assert math.isnan(xs[1]) and math.isnan(ys[1]) and xs[2:] == [4, 5]


def test_anytime_plot_puts_a_collapsed_point_on_the_floor(tmp_path, monkeypatch):
    """A cell at chance (10%) would flatten the other curves: it is drawn on the axis floor, 15 points below the
    best value, labelled with its truth; points within the span are drawn as they are."""
    import matplotlib.axes

    drawn, labels, limits = [], [], []
    plot, annotate, ylim = matplotlib.axes.Axes.plot, matplotlib.axes.Axes.annotate, matplotlib.axes.Axes.set_ylim
    monkeypatch.setattr(matplotlib.axes.Axes, "plot", lambda self, *a, **k: drawn.append(a) or plot(self, *a, **k))
    monkeypatch.setattr(matplotlib.axes.Axes, "annotate",
                        lambda self, text, *a, **k: labels.append(text) or annotate(self, text, *a, **k))
    monkeypatch.setattr(matplotlib.axes.Axes, "set_ylim",
                        lambda self, *a, **k: limits.append(a) or ylim(self, *a, **k))
    series = [("rarts", [([1, 2, 3], [86.0, 10.0, 10.0]), ([1, 2, 3], [85.0, 85.5, 85.9])]),
              ("gdas", [([1, 2, 3], [84.0, 86.0, 86.1])])]
    anytime_curves(series, 87.5, tmp_path / "anytime.png")
    assert drawn[0] == ([1, 2, 3], [86.0, 72.5, 72.5])   # 87.5 - 15: the floor
    assert drawn[1] == ([2, 3], [72.5, 72.5])             # the triangles
    assert drawn[2] == ([1, 2, 3], [85.0, 85.5, 85.9]) and labels == ["10.0"]
    assert (71.5, 88.5) in limits
    limits.clear()
    unclipped = anytime_curves([("gdas", [([1, 2], [84.0, 86.0])])], 87.5, tmp_path / "b.png")
    assert unclipped.is_file() and (71.5, 88.5) not in limits  # nothing below the span: autoscaled


def test_doctests():
    assert doctest.testmod(nas.plots).failed == 0
