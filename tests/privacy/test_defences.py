import numpy as np
import pytest

from trustlab import ConfigError
from trustlab.privacy import parse_defence, restrict_output

P = np.array([[0.123456, 0.876544], [0.7, 0.3]])


def test_restrictions():
    assert restrict_output(P, "label-only").tolist() == [[0, 1], [1, 0]]
    assert restrict_output(P, "round:2").tolist() == [[0.12, 0.88], [0.7, 0.3]]
    np.testing.assert_allclose(restrict_output(P, "top1"), P)  # binary: top-1 reveals everything
    P3 = np.array([[0.2, 0.5, 0.3]])
    np.testing.assert_allclose(restrict_output(P3, "top1"), [[0.25, 0.5, 0.25]])
    assert restrict_output(P, "none") is not None


@pytest.mark.parametrize("bad", ["blur", "round:", "round:x", "round:11", "labels"])
def test_unknown_defence(bad):
    with pytest.raises(ConfigError):
        parse_defence(bad)


def test_parse():
    assert parse_defence("round:3").decimals == 3
    assert parse_defence("DPSGD").name == "dpsgd"
