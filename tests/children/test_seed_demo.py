import pytest
from django.core.management import call_command

from children.models import Child, Involvement
from practitioners.models import LocalAuthority, Practitioner, Service

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def embedded(settings):
    """The demo commands only run on the embedded setup; the suite also runs on PostgreSQL."""
    settings.EMBEDDED = True


def test_seed_demo_refuses_a_configured_database_unless_told(settings):
    from django.core.management.base import CommandError

    settings.EMBEDDED = False
    with pytest.raises(CommandError, match="Refusing"):
        call_command("seed_demo", children_per_authority=1)
    with pytest.raises(CommandError, match="embedded"):
        call_command("demo_code", "leeds.social")
    call_command("seed_demo", children_per_authority=1, allow_production=True)
    assert Child.objects.exists()


def counts():
    return (Child.objects.count(), Involvement.objects.count(), Practitioner.objects.count(),
            LocalAuthority.objects.count())


def test_seed_demo_builds_a_coherent_world_and_running_it_twice_duplicates_nothing(capsys):
    call_command("seed_demo", children_per_authority=10)
    first = counts()
    call_command("seed_demo", children_per_authority=10)
    assert counts() == first
    assert first[0] == 32 and first[3] == 3
    assert Service.objects.filter(sensitive=True).exists()
    assert Involvement.objects.filter(service__sensitive=True).exists()
    out = capsys.readouterr().out
    assert "auditor" in out and "leeds.admin" in out


def test_the_demo_world_is_the_same_for_the_same_seed():
    call_command("seed_demo", children_per_authority=5, seed=7)
    names = sorted(Child.objects.values_list("nhs_number", "family_name"))
    Involvement.objects.all().delete()
    Child.objects.all().delete()
    call_command("seed_demo", children_per_authority=5, seed=7)
    assert sorted(Child.objects.values_list("nhs_number", "family_name")) == names


def test_the_demo_has_a_child_who_moved_area_with_history_in_both_and_a_shielded_child():
    call_command("seed_demo", children_per_authority=3)
    moved = Child.objects.get(nhs_number="9434765919")
    areas = set(moved.addresses.values_list("local_authority__gss_code", flat=True))
    assert areas == {"E09000013", "E08000035"} and moved.local_authority.gss_code == "E08000035"
    assert moved.involvements.filter(organisation__local_authority__gss_code="E09000013").exists()
    assert Child.objects.filter(shielded=True).count() == 1


def test_demo_users_can_get_a_second_factor_code(capsys):
    call_command("seed_demo", children_per_authority=1)
    capsys.readouterr()
    call_command("demo_code", "leeds.social")
    code = capsys.readouterr().out.strip()
    assert len(code) == 6 and code.isdigit()


def test_demo_organisations_hold_access_to_exactly_the_children_they_are_involved_with():
    from children.models import Involvement
    from practitioners.models import AccessGrant, ChildGroupObjectPermission

    def held():
        return set(ChildGroupObjectPermission.objects.values_list("group__organisation", "content_object"))

    call_command("seed_demo", children_per_authority=3)
    involved = set(Involvement.objects.open().values_list("organisation", "child"))
    assert involved and held() == involved
    assert not AccessGrant.objects.filter(source="involvement").exists()
    call_command("seed_demo", children_per_authority=3)
    assert held() == involved
