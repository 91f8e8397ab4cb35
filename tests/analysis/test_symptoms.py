"""The symptom lexicon: what went wrong, whatever the words."""

from __future__ import annotations

import pytest

from analysis.symptoms import SYMPTOMS, primary_symptom, symptoms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("File upload keeps timing out today. It worked yesterday.", "failing"),
        ("Is something down? Upload not working for me since 18:24", "failing"),
        ("I get an error at checkout after waiting a long time", "failing"),
        ("Since 13:35 uploads fail or take ages", "failing"),
        ("the export crashed twice", "failing"),
        ("Had to retry sharing over and over. It eventually worked", "retrying"),
        ("Worked after a refresh, strange", "retrying"),
        ("I can't get past email verification", "stuck"),
        ("The address form keeps rejecting me", "stuck"),
        ("The search page takes forever to load", "slow"),
        ("it spins for a long time before anything shows up", "slow"),
        ("Why is the dashboard so sluggish?", "slow"),
        ("How do I change the email on my account?", None),
        ("Please send an invoice with our VAT number", None),
    ],
)
def test_primary_symptom(text: str, expected: str | None) -> None:
    assert primary_symptom(text) == expected


def test_every_symptom_in_order() -> None:
    assert SYMPTOMS == ("failing", "retrying", "stuck", "slow")
    # a failure told with waiting is a failure first, and slow too
    assert symptoms("file upload super slow and then fails") == ["failing", "slow"]
    assert symptoms("") == []


@pytest.mark.parametrize(
    "text",
    ["the images are blurry", "uploading photos from my phone", "a hangout link", "breakfast"],
)
def test_words_inside_other_words_do_not_count(text: str) -> None:
    assert symptoms(text) == []
