"""The one set of argument checks: a wrong type raises TypeError, a wrong value ValueError, and
each message names the argument."""

from __future__ import annotations

import pytest
import torch

from spikedefense._validate import check_images, check_int, check_labels, check_positive

X = torch.rand(3, 1, 28, 28)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: check_int("steps", 2.5), TypeError, "steps: expected an int"),
        (lambda: check_int("steps", True), TypeError, "steps: expected an int"),
        (lambda: check_int("steps", 0, 1), ValueError, "steps: expected an int >= 1"),
        (lambda: check_int("k", 9, 1, 8), ValueError, "k: expected an int >= 1 and <= 8"),
        (lambda: check_positive("lr", "x"), TypeError, "lr: expected a real number"),
        (lambda: check_positive("lr", float("inf")), ValueError, "lr: expected a finite"),
        (lambda: check_images(X.numpy(), "x"), TypeError, "x: expected a torch.Tensor"),
        (lambda: check_images(X.int(), "x"), TypeError, "x: expected a floating-point"),
        (lambda: check_images(X[0], "x"), ValueError, "x: expected shape"),
        (lambda: check_images(X, "x", shape=(1, 32, 32)), ValueError, r"expected shape \[N, 1, 32"),
        (lambda: check_images(X * 2, "x"), ValueError, r"x: expected values in \[0, 1\]"),
        (lambda: check_labels(torch.zeros(3), 3), TypeError, "labels: expected dtype"),
        (lambda: check_labels([0, 1, 2], 3), TypeError, "labels: expected a torch.Tensor"),
        (lambda: check_labels(torch.zeros(2, dtype=torch.int64), 3), ValueError,
         r"labels: expected shape \[3\]"),
    ],
)  # fmt: skip
def test_wrong_type_is_a_type_error_and_wrong_value_a_value_error(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_valid_values_pass_through() -> None:
    assert check_int("n", 3, 1, 3) == 3 and check_positive("lr", 1) == 1.0
    assert check_images(X) is X
    labels = torch.arange(3)
    assert check_labels(labels, 3) is labels
