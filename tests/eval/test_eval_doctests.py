"""The examples in the docstrings of lnsnet.eval run and give what they show."""

import doctest

import pytest

from lnsnet.eval import labels, metrics


@pytest.mark.parametrize("module", [labels, metrics], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
