"""``manage.py verify_audit_chain`` finds tampering, and anchors catch a rewritten chain."""

import json
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit import guards, integrity
from audit.context import RequestContext
from audit.models import AccessEvent, ChainHead
from audit.services import compute_hash, record_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anchor_file(settings, tmp_path):
    settings.AUDIT_ANCHOR_FILE = tmp_path / "anchors.jsonl"
    return settings.AUDIT_ANCHOR_FILE


@pytest.fixture
def events():
    return [record_event(action="child.view", context=RequestContext.system(), reason=f"visit {n}")
            for n in range(6)]


@contextmanager
def triggers_disabled():
    """What a database superuser could do: switch the append-only triggers off for a moment."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        else:
            for table in guards.GUARDED_TABLES:
                cursor.execute(f"DROP TRIGGER {table}_refuse_update")
                cursor.execute(f"DROP TRIGGER {table}_refuse_delete")
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")
        else:
            guards.install(connection)
    assert guards.missing(connection) == []


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def verify():
    try:
        call_command("verify_audit_chain")
    except CommandError as error:
        return str(error)
    return "OK"


def test_an_intact_chain_is_reported_ok(events, capsys):
    call_command("verify_audit_chain")
    assert "Audit chain OK: 6 events in 1 chains" in capsys.readouterr().out


def test_an_edited_event_is_found_and_named_with_a_non_zero_exit(events):
    with triggers_disabled():
        raw("UPDATE audit_accessevent SET reason = 'nothing to see' WHERE id = %s", [events[2].pk])
    message = verify()
    assert f"BROKEN at event #{events[2].pk} (chain 1, seq 3)" in message
    assert "hash does not match the event's content" in message


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_with_status_1_when_broken_and_0_when_not(capsys):
    from django.core.management import ManagementUtility

    events = [record_event(action="child.view", context=RequestContext.system()) for _ in range(3)]
    ManagementUtility(["manage.py", "verify_audit_chain"]).execute()  # returns: exit status 0
    assert "Audit chain OK" in capsys.readouterr().out
    with triggers_disabled():
        raw("UPDATE audit_accessevent SET reason = 'x' WHERE id = %s", [events[1].pk])
    with pytest.raises(SystemExit) as exit_status:
        ManagementUtility(["manage.py", "verify_audit_chain"]).execute()
    assert exit_status.value.code == 1
    assert f"BROKEN at event #{events[1].pk}" in capsys.readouterr().err


def test_a_deleted_event_in_the_middle_is_found(events):
    with triggers_disabled():
        raw("DELETE FROM audit_accessevent WHERE id = %s", [events[3].pk])
    assert f"event #{events[4].pk} (chain 1, seq 5): expected seq 4, found 5: an event is missing" in verify()


def test_deleting_the_newest_events_is_found_from_the_chain_head(events):
    with triggers_disabled():
        raw("DELETE FROM audit_accessevent WHERE id >= %s", [events[4].pk])
    assert "the chain head says 6 events, only 4 are there" in verify()


def rewrite_history(target: AccessEvent, *, reason: str):
    """The attack anchors exist for: edit one event and rehash it and everything after it."""
    prev = target.prev_hash
    with triggers_disabled():
        for event in AccessEvent.objects.filter(chain=target.chain, seq__gte=target.seq).order_by("seq"):
            if event.pk == target.pk:
                event.reason = reason
            event.prev_hash = prev
            event.hash = compute_hash(event)
            raw("UPDATE audit_accessevent SET reason = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [event.reason, event.prev_hash, event.hash, event.pk])
            prev = event.hash
        ChainHead.objects.filter(pk=target.chain).update(last_hash=prev)


def test_a_rehashed_chain_passes_on_its_own_but_not_against_the_anchor(events, capsys):
    call_command("anchor_audit_chain")
    rewrite_history(events[1], reason="rewritten")
    anchors = integrity.read_anchors(integrity.settings.AUDIT_ANCHOR_FILE)
    assert integrity.verify(anchor_file="/nonexistent").ok  # self-consistent: only the anchor can tell
    message = verify()
    assert "hash differs from the one anchored at" in message and "the chain was rewritten" in message
    assert f"event #{events[5].pk}" in message  # the anchored head
    assert len(anchors) == 1


def test_anchoring_refuses_a_chain_broken_since_the_last_anchor(events):
    call_command("anchor_audit_chain")
    record_event(action="child.view", context=RequestContext.system())
    rewrite_history(events[0], reason="rewritten")
    with pytest.raises(CommandError, match="no longer reaches its anchored event"):
        call_command("anchor_audit_chain")


def test_an_anchor_not_signed_with_the_deployment_key_is_rejected(events, anchor_file, settings):
    call_command("anchor_audit_chain")
    line = json.loads(anchor_file.read_text().splitlines()[-1])
    line["heads"][0][2] = "f" * 64  # an attacker rewrites the anchor to match a rewritten chain
    with anchor_file.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    assert "not signed with this deployment's key" in verify()
    settings.AUDIT_ANCHOR_KEY = "another deployment"
    anchor_file.write_text(anchor_file.read_text().splitlines()[0] + "\n")
    assert "not signed with this deployment's key" in verify()


def test_anchors_are_appended_signed_and_cover_every_chain(events, anchor_file, capsys):
    call_command("anchor_audit_chain")
    record_event(action="child.view", context=RequestContext.system())
    call_command("anchor_audit_chain")
    first, second = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert [head for head in first["heads"] if head[1]] == [[1, 6, events[-1].hash]]
    assert [head[:2] for head in second["heads"] if head[1]] == [[1, 7]]
    assert {head[0] for head in first["heads"]} == set(range(1, integrity.settings.AUDIT_CHAINS + 1))
    assert integrity.anchor_is_genuine(first) and integrity.anchor_is_genuine(second)
    assert "matches 2 anchors checked" in (call_command("verify_audit_chain") or capsys.readouterr().out)


def test_missing_append_only_triggers_count_as_broken(events):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_eventdisclosure DISABLE TRIGGER audit_refuse_delete")
        else:
            cursor.execute("DROP TRIGGER audit_eventdisclosure_refuse_delete")
    assert "append-only triggers missing: audit_eventdisclosure" in verify()
