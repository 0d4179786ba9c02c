"""CPU lists as Linux writes them: the cores a lab pins a host to."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.cpus import compact, expand, mask


def test_a_cpu_list_expands_and_compacts_back() -> None:
    assert expand("0-2,5") == (0, 1, 2, 5)
    assert expand("7") == (7,)
    assert expand("3,1-2") == (1, 2, 3)
    assert compact((0, 1, 2, 5)) == "0-2,5"
    assert compact(range(4, 8)) == "4-7"
    assert mask("0-2,5") == "27"
    assert mask("1") == "2"


@pytest.mark.parametrize("bad", ["", "a", "1-", "3-1", "1,,2", "-1"])
def test_what_is_not_a_cpu_list_is_named(bad: str) -> None:
    with pytest.raises(ValueError) as err:
        expand(bad)
    assert str(err.value) == f"{bad!r} is not a CPU list (like 0-2,5)"


@given(st.sets(st.integers(0, 200), min_size=1))
def test_compact_then_expand_is_the_same_cores(cores: set[int]) -> None:
    assert expand(compact(cores)) == tuple(sorted(cores))
