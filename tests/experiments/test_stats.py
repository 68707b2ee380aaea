"""The statistics core against independent answers: a closed form, a big simulation, Lehr's
rule, and the split of 10,000 synthetic visitors."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest

from im2.experiments import stats


def test_assignment_is_sticky_and_independent_per_experiment() -> None:
    ids = [uuid.uuid4().hex for _ in range(2000)]
    first = [stats.pick_variant("poster-a-b", i, [1, 1]) for i in ids]
    again = [stats.pick_variant("poster-a-b", i, [1, 1]) for i in ids]
    assert first == again
    other = [stats.pick_variant("reward-levels", i, [1, 1]) for i in ids]
    # A different experiment splits the same people independently: about half agree.
    agree = sum(a == b for a, b in zip(first, other, strict=True)) / len(ids)
    assert 0.44 < agree < 0.56


@pytest.mark.parametrize("weights", [[1, 1], [3, 1], [0.5, 0.25, 0.25], [70, 20, 10]])
def test_the_split_follows_the_weights(weights: list[float]) -> None:
    n = 10_000
    picks = np.bincount(
        [stats.pick_variant("split", f"visitor-{i}", weights) for i in range(n)],
        minlength=len(weights),
    )
    expected = np.array(weights) / sum(weights) * n
    # Within 4 binomial standard deviations of the expected count, for every variant.
    sd = np.sqrt(expected * (1 - expected / n))
    assert np.all(np.abs(picks - expected) < 4 * sd), (picks, expected)


@pytest.mark.parametrize(
    ("a", "b"),
    [((100, 1000), (120, 1000)), ((30, 400), (30, 400)), ((5, 60), (15, 70)), ((0, 50), (2, 50))],
)
def test_probability_of_being_best_matches_the_closed_form(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    exact = stats.prob_b_beats_a(a[0], a[1], b[0], b[1])
    analysis = stats.analyse([(a[1], a[0]), (b[1], b[0])], min_effect=0.2)
    # Monte Carlo with 100,000 draws: standard error at most 0.0016.
    assert analysis.variants[1].p_best == pytest.approx(exact, abs=0.006)
    assert analysis.variants[0].p_best + analysis.variants[1].p_best == pytest.approx(1)


def test_the_closed_form_is_right_on_a_known_case() -> None:
    # Equal posteriors: exactly one half by symmetry.
    assert stats.prob_b_beats_a(7, 50, 7, 50) == pytest.approx(0.5, abs=1e-9)
    # Beta(1,1) vs Beta(2,1): P(B > A) = integral of 2x * x dx from 0 to 1 = 2/3.
    assert stats.prob_b_beats_a(0, 0, 1, 1) == pytest.approx(2 / 3, abs=1e-9)


def test_expected_loss_against_a_large_independent_simulation() -> None:
    counts = [(500, 50), (500, 65), (500, 58)]
    analysis = stats.analyse(counts, min_effect=0.2)
    rng = np.random.default_rng(12345)
    draws = np.stack([rng.beta(1 + c, 1 + n - c, size=1_000_000) for n, c in counts])
    best = draws.max(axis=0)
    for i, v in enumerate(analysis.variants):
        assert v.expected_loss == pytest.approx(float((best - draws[i]).mean()), abs=0.0008)
        assert v.p_best == pytest.approx(float((draws.argmax(axis=0) == i).mean()), abs=0.006)
    # The 95 % credible interval of variant b holds its observed rate.
    assert analysis.variants[1].interval_low < 65 / 500 < analysis.variants[1].interval_high


def test_minimum_sample_is_lehrs_rule_and_gates_the_winner() -> None:
    # p = 0.1, 20 % relative lift: 16 * 0.1 * 0.9 / 0.02^2 = 3600.
    assert stats.min_sample_per_variant(0.1, 0.2) == 3600
    # A huge difference on a small sample: likely best, but not enough data to call it.
    small = stats.analyse([(200, 20), (200, 60)], min_effect=0.2)
    assert small.variants[1].p_best > 0.99
    assert not small.enough_data
    assert not small.significant
    # The same rates on a sample well beyond the requirement: a winner.
    n = 20_000
    big = stats.analyse([(n, n // 10), (n, n * 3 // 10)], min_effect=0.2)
    assert big.enough_data
    assert big.significant
    assert big.leader == 1
    assert big.required_per_variant <= n
    # Identical variants never produce a winner however large the sample.
    tie = stats.analyse([(n, 2000), (n, 2000)], min_effect=0.2)
    assert tie.enough_data
    assert not tie.significant
    assert math.isclose(tie.variants[0].p_best, 0.5, abs_tol=0.01)
