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
    assert first[0] == 35 and first[3] == 3  # 30 drawn at random, 5 named for the walkthroughs
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


def test_every_demo_contact_email_is_a_valid_address():
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    from practitioners.models import Organisation

    call_command("seed_demo", children_per_authority=3)
    addresses = set(Organisation.objects.values_list("contact_email", flat=True))
    addresses |= set(Involvement.objects.exclude(contact_email="").values_list("contact_email", flat=True))
    addresses |= set(Practitioner.objects.values_list("work_email", flat=True))
    assert "childrens-social-care@e06000052.example.org" in addresses
    for address in addresses:
        assert "'" not in address, address
        try:
            validate_email(address)
        except ValidationError:
            pytest.fail(f"invalid demo address {address!r}")


def test_an_older_demos_invalid_team_emails_are_mended_on_the_next_run():
    from practitioners.models import Organisation

    call_command("seed_demo", children_per_authority=3)
    team = Organisation.objects.get(name="Cornwall Children's Social Care")
    old = "team@children's.e06000052.example.org"
    Involvement.objects.filter(organisation=team).update(contact_email=old)
    Organisation.objects.filter(pk=team.pk).update(contact_email=old)
    call_command("seed_demo", children_per_authority=3)
    team.refresh_from_db()
    assert team.contact_email == "childrens-social-care@e06000052.example.org"
    assert not Involvement.objects.filter(contact_email=old).exists()


def test_every_demo_involvement_names_a_lead_practitioner_of_its_organisation():
    call_command("seed_demo", children_per_authority=5)
    involvements = Involvement.objects.select_related("lead_practitioner__user")
    assert involvements.exists() and not involvements.filter(lead_practitioner=None).exists()
    for involvement in involvements:
        lead = involvement.lead_practitioner
        assert lead.organisation_id == involvement.organisation_id
        assert lead.user.first_name and lead.user.last_name and lead.job_title
    social = Practitioner.objects.get(user__username="leeds.social")
    assert social.user.get_full_name() == "Imran Hussain"  # a person's name, not "Leeds Worker"
    assert social.led_involvements.exists()


def test_the_demo_has_one_child_of_each_kind_a_walkthrough_needs():
    from practitioners import permissions
    from practitioners.models import AccessGrant, AccessRequest

    call_command("seed_demo", children_per_authority=3)
    moved = Child.objects.get(nhs_number="9434765919")
    assert moved.addresses.values("local_authority").distinct().count() == 2
    assert Child.objects.get(shielded=True).full_name == "Amelia Trelawny"
    sensitive = Child.objects.get(given_names="Maisie", family_name="Pengelly")
    assert sensitive.involvements.open().filter(service__sensitive=True).exists()
    waiting = AccessRequest.objects.get(status=AccessRequest.Status.OPEN)
    assert waiting.child.full_name == "Oliver Mensah" and waiting.practitioner.user.username == "hammersmith.nurse"
    assert permissions.administers(get_user("leeds.admin"), waiting.child.local_authority)
    assert not permissions.may_open_child(waiting.practitioner, waiting.child)  # a real request: no access yet
    glass = AccessGrant.objects.get(source=AccessGrant.Source.BREAK_GLASS)
    assert glass.child.full_name == "Tomasz Wiśniewski" and glass.practitioner.user.username == "leeds.social"
    assert glass.reviewed_at is None and permissions.administers(get_user("hammersmith.admin"), glass.child.local_authority)
    from audit.models import AccessEvent

    assert AccessEvent.objects.filter(action="grant.break_glass", child_ref=glass.child.reference,
                                      actor_id=glass.practitioner.user_id).exists()

    call_command("seed_demo", children_per_authority=3)  # idempotent: still one of each
    assert AccessRequest.objects.count() == 1 and AccessGrant.objects.filter(source="break_glass").count() == 1
    assert Child.objects.filter(given_names="Maisie", family_name="Pengelly").count() == 1


def get_user(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)
