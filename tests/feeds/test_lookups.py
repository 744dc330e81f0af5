"""``__any_of``: the same rows as ``__in``, whatever the database."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from children.models import Child
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def children():
    return [factories.ChildFactory() for _ in range(5)]


def test_any_of_selects_what_in_selects_for_ids_and_strings(children):
    ids = [c.pk for c in children[:3]] + [10**9]
    assert set(Child.objects.filter(pk__any_of=ids)) == set(Child.objects.filter(pk__in=ids)) == set(children[:3])
    references = [children[4].reference, "C-NOPE0-NOPE0"]
    assert list(Child.objects.filter(reference__any_of=references)) == [children[4]]


def test_any_of_an_empty_list_matches_nothing(children):
    assert not Child.objects.filter(pk__any_of=[]).exists()


def test_any_of_agrees_with_in_on_arbitrary_strings(children):
    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.text(max_size=12), max_size=12))
    def agrees(values):
        values = [v.replace("\x00", "") for v in values] + [children[0].reference]  # PostgreSQL refuses NUL
        assert set(Child.objects.filter(reference__any_of=values)) == set(Child.objects.filter(reference__in=values))

    agrees()
