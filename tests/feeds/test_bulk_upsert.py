"""POST /api/v1/involvements/bulk: per-row results, idempotent, a bad row never stops the good ones."""

from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from audit.models import AccessEvent
from children.models import Child, Involvement
from feeds.models import FeedBatch
from practitioners import permissions
from practitioners.models import AccessGrant
from tests import factories
from tests.feeds.conftest import post_rows, row

pytestmark = pytest.mark.django_db


def statuses(response):
    assert response.status_code == 200, response.content
    return [r["status"] for r in response.json()["results"]]


def test_new_rows_create_children_and_involvements(api, organisation):
    response = post_rows(api, [row(1), row(2)])
    assert statuses(response) == ["created", "created"]
    assert response.json()["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "queued_for_review": 0,
                                         "error": 0}
    child = Child.objects.get(nhs_number=row(1)["nhs_number"])
    assert (child.given_names, child.date_of_birth, child.postcode) == ("Amelia", date(2015, 3, 27), "W6 9LA")
    assert child.local_authority == organisation.local_authority
    assert child.names.get(kind="current").family_norm == "testpersonb"
    assert child.addresses.get().postcode == "W6 9LA"
    involvement = child.involvements.get()
    assert (involvement.external_id, involvement.service.code, involvement.started_on) == (
        "EXT-1", "school-nursing", date(2024, 9, 2))


def test_the_same_batch_twice_is_all_unchanged_and_changes_nothing(api):
    batch = [row(n) for n in range(1, 6)]
    assert statuses(post_rows(api, batch)) == ["created"] * 5
    before = list(Involvement.objects.order_by("pk").values("pk", "child_id", "service_id", "started_on", "ended_on",
                                                            "contact_phone", "contact_email"))
    children = Child.objects.count()
    history = LogEntry.objects.count()

    assert statuses(post_rows(api, batch)) == ["unchanged"] * 5

    after = list(Involvement.objects.order_by("pk").values("pk", "child_id", "service_id", "started_on", "ended_on",
                                                           "contact_phone", "contact_email"))
    assert after == before
    assert Child.objects.count() == children
    assert LogEntry.objects.count() == history


def test_an_unchanged_row_still_counts_as_confirmed_by_its_source(api):
    post_rows(api, [row(1)])
    long_ago = timezone.now() - timedelta(days=400)
    Involvement.objects.update(last_confirmed_at=long_ago)
    post_rows(api, [row(1)])
    assert Involvement.objects.get().last_confirmed_at > long_ago + timedelta(days=399)


def test_a_changed_row_updates_its_involvement_and_records_the_change(api):
    post_rows(api, [row(1)])
    response = post_rows(api, [row(1, ended_on="2025-01-31", contact_email="nurses@example.org")])
    assert statuses(response) == ["updated"]
    involvement = Involvement.objects.get()
    assert involvement.ended_on == date(2025, 1, 31) and involvement.contact_email == "nurses@example.org"
    entry = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Involvement),
                                    object_id=involvement.pk, action=LogEntry.Action.UPDATE).get()
    assert entry.changes["ended_on"] == ["None", "2025-01-31"]
    assert entry.additional_data["source"] == "feed.api"


def test_every_created_involvement_gets_its_change_history(api):
    post_rows(api, [row(1), row(2)])
    created = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Involvement),
                                      action=LogEntry.Action.CREATE)
    assert sorted(created.values_list("object_id", flat=True)) == sorted(Involvement.objects.values_list("pk",
                                                                                                         flat=True))
    assert created.first().changes["external_id"][1] in {"EXT-1", "EXT-2"}


def test_a_mixed_batch_stores_exactly_the_good_rows_and_explains_each_bad_one(api):
    good = [row(1), row(2), row(3)]
    bad = [
        row(10, nhs_number="9434765918"),  # wrong check digit
        row(11, started_on="2024-09-02", ended_on="2024-01-01"),
        row(12, service="underwater-basket-weaving"),
        row(13, date_of_birth=None),
        row(14, given_names="Am\x00elia"),
        row(15, nhs_number="９４３４７６５９１９"),
        row(16, date_of_birth="２０１５-03-27"),
        row(17, date_of_birth=(date.today() + timedelta(days=2)).isoformat()),
        row(18, postcode="NOT A POSTCODE"),
        "not even an object",
    ]
    rows = [good[0], *bad[:5], good[1], *bad[5:], good[2]]
    response = post_rows(api, rows)
    results = response.json()["results"]
    assert statuses(response) == ["created"] + ["error"] * 5 + ["created"] + ["error"] * 5 + ["created"]
    errors = {r["external_id"]: r["errors"] for r in results if r["status"] == "error"}
    assert "NHS number" in errors["EXT-10"]["nhs_number"][0]
    assert "end date cannot be before the start date" in errors["EXT-11"]["ended_on"][0]
    assert "Unknown service code" in errors["EXT-12"]["service"][0]
    assert "date_of_birth" in errors["EXT-13"]
    assert "given_names" in errors["EXT-14"]
    assert "0 to 9" in errors["EXT-15"]["nhs_number"][0]
    assert "0 to 9" in errors["EXT-16"]["date_of_birth"][0]
    assert "past" in errors["EXT-17"]["date_of_birth"][0]
    assert "postcode" in errors["EXT-18"]["postcode"][0]
    assert "non_field_errors" in errors[""]
    assert sorted(Involvement.objects.values_list("external_id", flat=True)) == ["EXT-1", "EXT-2", "EXT-3"]
    assert Child.objects.count() == 3


def test_an_external_id_twice_in_one_batch_is_an_error_for_the_second(api):
    response = post_rows(api, [row(1), row(1, started_on="2023-01-01")])
    assert statuses(response) == ["created", "error"]
    assert Involvement.objects.get().started_on == date(2024, 9, 2)


def test_a_service_the_organisation_does_not_deliver_is_refused(api):
    factories.ServiceFactory(code="youth-justice")
    response = post_rows(api, [row(1, service="youth-justice")])
    assert "not recorded as delivering" in response.json()["results"][0]["errors"]["service"][0]


def test_a_row_without_contact_details_uses_the_organisations(api, organisation):
    post_rows(api, [row(1, contact_phone=None)])
    assert Involvement.objects.get().contact_phone == organisation.contact_phone


@pytest.mark.parametrize("body", [{"rows": []}, {"rows": "x"}, {}, [row(1)]])
def test_a_body_without_a_list_of_rows_is_refused(api, body):
    response = api.post("/api/v1/involvements/bulk", body, format="json")
    assert response.status_code == 400
    assert not Involvement.objects.exists()


def test_more_rows_than_the_batch_size_is_refused_whole(api, settings):
    settings.FEED_BATCH_SIZE = 3
    response = post_rows(api, [row(n) for n in range(4)])
    assert response.status_code == 400 and "at most 3" in response.json()["rows"][0]
    assert not Involvement.objects.exists()


def test_the_batch_writes_one_audit_event_with_its_counts_and_a_batch_record(api, organisation, token):
    post_rows(api, [row(1), row(2, nhs_number="123")])
    event = AccessEvent.objects.get(action="feed.bulk")
    assert event.actor_id is None
    assert event.details["organisation_id"] == organisation.pk
    assert event.details["token_id"] == token[0].pk
    assert event.details["counts"]["created"] == 1 and event.details["counts"]["error"] == 1
    batch = FeedBatch.objects.get()
    assert (batch.source, batch.rows, batch.created, batch.errors) == ("api", 2, 1, 1)


def test_the_audit_event_and_the_writes_share_one_transaction(api, monkeypatch):
    from audit import services as audit_services

    def broken(**kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(audit_services, "record_event", broken)
    with pytest.raises(RuntimeError):
        post_rows(api, [row(1)])
    assert not Involvement.objects.exists() and not Child.objects.exists() and not FeedBatch.objects.exists()


def test_an_open_involvement_opens_the_record_to_the_organisations_practitioners_and_ending_it_closes_it(
        api, organisation, monkeypatch):
    from django.contrib.auth.models import User

    monkeypatch.setattr(User, "is_verified", lambda self: True, raising=False)
    colleague = factories.PractitionerFactory(organisation=organisation)
    post_rows(api, [row(1)])
    child = Child.objects.get()
    assert permissions.may_open_child(colleague, child)
    post_rows(api, [row(1, ended_on="2025-01-31")])
    assert not permissions.may_open_child(colleague, child)
    events = AccessEvent.objects.filter(action="feed.bulk").order_by("pk")
    assert [e.details["organisation_access"] for e in events] == [{"granted": 1, "ended": 0},
                                                                  {"granted": 0, "ended": 1}]


def test_a_new_involvement_for_a_known_child_adds_no_second_record(api):
    post_rows(api, [row(1)])
    response = post_rows(api, [row(1, external_id="EXT-1-second-service", started_on="2025-01-01")])
    assert statuses(response) == ["created"]
    assert Child.objects.count() == 1 and Involvement.objects.count() == 2


def test_a_batch_writes_one_access_permission_per_child_however_many_practitioners_the_organisation_has(
        api, organisation):
    from practitioners.models import ChildGroupObjectPermission

    for _ in range(3):
        factories.PractitionerFactory(organisation=organisation)
    post_rows(api, [row(1), row(2), row(2, external_id="EXT-2-again", started_on="2025-01-01")])
    assert ChildGroupObjectPermission.objects.count() == 2
    assert not AccessGrant.objects.exists()
    assert not AccessEvent.objects.filter(action__startswith="grant.").exists()  # counted in feed.bulk instead
    post_rows(api, [row(1), row(2)])
    assert AccessEvent.objects.filter(action="feed.bulk").order_by("-pk").first().details["organisation_access"] == {
        "granted": 0, "ended": 0}
