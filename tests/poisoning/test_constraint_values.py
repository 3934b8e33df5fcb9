"""The poisoner's accuracy constraint (paired loss and its one-sided upper limit) by hand.

base = [1,1,1,1,0,1,0,1], new = [1,0,1,1,1,0,0,1] (correct or not on 8 validation rows), so
d = base - new = [0,1,0,0,-1,1,0,0]: mean 1/8; squared deviations 5 x (1/8)^2 + 2 x (7/8)^2
+ (9/8)^2 = 2.875, sample variance 2.875 / 7, standard error sqrt(2.875 / 7 / 8).
"""

import math

import numpy as np
import pytest

from trustlab.poisoning import paired_loss_bound

BASE = np.array([1, 1, 1, 1, 0, 1, 0, 1], dtype=bool)
NEW = np.array([1, 0, 1, 1, 1, 0, 0, 1], dtype=bool)
SE = math.sqrt(2.875 / 7 / 8)


def test_paired_loss_and_upper_limit_by_hand():
    loss, bound = paired_loss_bound(BASE, NEW, 0.9)
    assert loss == pytest.approx(0.125, abs=1e-12)  # a loss: the poisoned model is right less often
    assert bound == pytest.approx(0.125 + 1.2815515655446004 * SE, rel=1e-12)  # z(0.9)
    _, bound8 = paired_loss_bound(BASE, NEW, 0.8)
    assert bound8 == pytest.approx(0.125 + 0.8416212335729143 * SE, rel=1e-12)  # z(0.8)
    assert paired_loss_bound(BASE, NEW, None) == (pytest.approx(0.125), pytest.approx(0.125))


def test_a_gain_is_a_negative_loss():
    loss, bound = paired_loss_bound(NEW, BASE, 0.9)  # roles swapped: the new model is better
    assert loss == pytest.approx(-0.125, abs=1e-12)
    assert bound == pytest.approx(-0.125 + 1.2815515655446004 * SE, rel=1e-12)


def test_one_row_has_no_spread():
    assert paired_loss_bound(np.array([True]), np.array([False]), 0.9) == (1.0, 1.0)


def test_two_rows_have_a_spread():
    # d = [1, 0]: mean .5, sample sd sqrt(.5), standard error sqrt(.5) / sqrt(2) = .5
    loss, bound = paired_loss_bound(np.array([True, True]), np.array([False, True]), 0.9)
    assert loss == pytest.approx(0.5)
    assert bound == pytest.approx(0.5 + 1.2815515655446004 * 0.5, rel=1e-12)
