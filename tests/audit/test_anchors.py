"""Anchors catch truncation (issue 16 item 6): written often and without beat, every line checked,
and required outside DEBUG. The attacks are the issue's reproductions, by a session that can switch
the append-only triggers off (a database superuser or the tables' owner)."""

import json
import logging

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit import integrity
from audit.context import RequestContext
from audit.models import AccessEvent, ChainHead
from audit.services import record_event
from tests.audit.test_verify_audit_chain import raw, rewrite_history, triggers_disabled

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anchor_file(settings, tmp_path):
    settings.AUDIT_ANCHOR_FILE = tmp_path / "anchors.jsonl"
    settings.AUDIT_CHAINS = 1  # one chain, so "the newest N events" is one tail on every database
    return settings.AUDIT_ANCHOR_FILE


def write(n, capture, start=0):
    """n events, each committed on its own as a request's would be (so on-commit anchoring runs)."""
    events = []
    for i in range(n):
        with capture(execute=True), transaction.atomic():
            events.append(record_event(action="child.view", context=RequestContext.system(), reason=f"v{start + i}"))
    return events


def verify(**kwargs):
    try:
        call_command("verify_audit_chain", **kwargs)
    except CommandError as error:
        return str(error)
    return "OK"


def truncate_tail(keep_seq: int):
    """Delete every event after ``keep_seq`` on chain 1 and move the head back to it."""
    kept = AccessEvent.objects.get(chain=1, seq=keep_seq)
    with triggers_disabled():
        raw("DELETE FROM audit_accessevent WHERE chain = 1 AND seq > %s", [keep_seq])
        raw("UPDATE audit_chainhead SET last_seq = %s, last_hash = %s, last_event_id = %s WHERE id = 1",
            [keep_seq, kept.hash, kept.pk])


def test_the_writer_anchors_every_n_events_of_a_chain_without_beat(settings, anchor_file,
                                                                    django_capture_on_commit_callbacks):
    settings.AUDIT_ANCHOR_EVERY = 3
    events = write(7, django_capture_on_commit_callbacks)
    lines = integrity.read_anchors(anchor_file)
    assert [line["heads"][0][:3] for line in lines] == [[1, 3, events[2].hash], [1, 6, events[5].hash]]
    assert all(integrity.anchor_is_genuine(line) for line in lines)


def test_a_rolled_back_write_anchors_nothing(settings, anchor_file, django_capture_on_commit_callbacks):
    settings.AUDIT_ANCHOR_EVERY = 1
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            record_event(action="child.view", context=RequestContext.system())
            raise RuntimeError("the change failed")
    assert not anchor_file.exists() or integrity.read_anchors(anchor_file) == []


def test_beat_anchors_every_minute():
    entry = django_settings.CELERY_BEAT_SCHEDULE["audit-anchor-chain-heads"]
    assert entry["task"] == "audit.tasks.anchor_chain_heads"
    assert entry["schedule"].minute == set(range(60)) and entry["schedule"].hour == set(range(24))


def test_a_quiet_minute_adds_no_line(anchor_file, django_capture_on_commit_callbacks):
    write(2, django_capture_on_commit_callbacks)
    call_command("anchor_audit_chain")
    call_command("anchor_audit_chain")
    assert len(integrity.read_anchors(anchor_file)) == 1


def test_a_failed_writer_anchor_does_not_fail_the_request_and_is_logged(settings, tmp_path, caplog,
                                                                        django_capture_on_commit_callbacks):
    settings.AUDIT_ANCHOR_EVERY = 1
    settings.AUDIT_ANCHOR_FILE = tmp_path / "not-a-directory" / "anchors.jsonl"
    (tmp_path / "not-a-directory").write_text("a file where the folder should be")
    with caplog.at_level(logging.ERROR, logger="signpost.audit"):
        [event] = write(1, django_capture_on_commit_callbacks)
    assert AccessEvent.objects.filter(pk=event.pk).exists()
    assert "audit anchor not written" in caplog.text


def test_tail_truncation_back_to_the_last_beat_anchor_is_caught(settings, django_capture_on_commit_callbacks):
    """The issue's reproduction: delete the events written since the beat's anchor and move the head
    back. The writer anchored in between, so the deleted events are anchored and missed."""
    settings.AUDIT_ANCHOR_EVERY = 4
    write(2, django_capture_on_commit_callbacks)
    call_command("anchor_audit_chain")  # beat, at seq 2
    write(5, django_capture_on_commit_callbacks, start=2)  # the writer anchors at seq 4
    assert verify() == "OK"
    truncate_tail(keep_seq=2)
    message = verify()
    assert "BROKEN" in message and "chain 1, seq 4" in message
    assert "the anchored event" in message and "is gone" in message


def test_tail_truncation_is_caught_even_with_the_newest_anchor_lines_removed(
        settings, anchor_file, django_capture_on_commit_callbacks):
    """Every line is checked, not only the last: an older anchor still names a deleted event."""
    settings.AUDIT_ANCHOR_EVERY = 2
    write(6, django_capture_on_commit_callbacks)  # anchors at 2, 4, 6
    truncate_tail(keep_seq=3)
    lines = anchor_file.read_text().splitlines()
    anchor_file.write_text("\n".join(lines[:2]) + "\n")  # the anchor at 6 removed too; the one at 4 remains
    assert "chain 1, seq 4" in verify() and "is gone" in verify()


def test_a_forged_line_in_the_middle_of_the_file_is_reported(settings, anchor_file,
                                                              django_capture_on_commit_callbacks):
    settings.AUDIT_ANCHOR_EVERY = 2
    write(4, django_capture_on_commit_callbacks)
    first, second = anchor_file.read_text().splitlines()
    forged = json.loads(first)
    forged["heads"][0][2] = "f" * 64
    anchor_file.write_text("\n".join([first, json.dumps(forged), second]) + "\n")
    assert "anchor line 2" in verify() and "not signed with this deployment's key" in verify()


def test_a_line_that_moves_a_chain_back_is_reported(settings, anchor_file, django_capture_on_commit_callbacks):
    settings.AUDIT_ANCHOR_EVERY = 2
    write(4, django_capture_on_commit_callbacks)
    first, second = anchor_file.read_text().splitlines()
    anchor_file.write_text("\n".join([second, first]) + "\n")  # replayed out of order
    assert "moves chain 1 back from seq 4 to 2" in verify()


def test_without_the_anchor_file_a_rehashed_chain_fails_in_production_mode(settings, anchor_file,
                                                                           django_capture_on_commit_callbacks):
    """The issue's reproduction: remove the anchor file, edit and rehash the chain."""
    events = write(4, django_capture_on_commit_callbacks)
    call_command("anchor_audit_chain")
    anchor_file.unlink()
    rewrite_history(events[1], reason="rewritten")
    settings.AUDIT_ANCHOR_REQUIRED = True
    message = verify()
    assert "BROKEN" in message and "no anchor in" in message and "was the file removed?" in message


def test_in_debug_mode_a_missing_anchor_is_only_a_warning(settings, capsys, django_capture_on_commit_callbacks):
    write(2, django_capture_on_commit_callbacks)
    settings.AUDIT_ANCHOR_REQUIRED = False
    assert verify() == "OK"
    assert "no anchor in" in capsys.readouterr().err


def test_an_empty_log_with_no_anchor_also_fails_in_production_mode(settings):
    """Truncating everything and removing the file must not read as a fresh install."""
    settings.AUDIT_ANCHOR_REQUIRED = True
    assert "no anchor in" in verify()
    call_command("anchor_audit_chain")  # a fresh install's first beat anchors the empty chains
    assert verify() == "OK"


def test_the_intact_log_with_anchors_reports_how_many_lines_were_checked(settings, capsys,
                                                                         django_capture_on_commit_callbacks):
    settings.AUDIT_ANCHOR_EVERY = 2
    settings.AUDIT_ANCHOR_REQUIRED = True
    write(5, django_capture_on_commit_callbacks)
    call_command("verify_audit_chain")
    out = capsys.readouterr().out
    assert "Audit chain OK: 5 events" in out and "2 anchors checked" in out


@pytest.mark.parametrize("debug, required", [("true", False), ("false", True)])
def test_the_anchor_is_required_unless_debug(tmp_path, debug, required):
    import subprocess
    import sys

    from tests.signpost.test_settings import ROOT

    code = "import signpost.settings as s; print(s.AUDIT_ANCHOR_REQUIRED)"
    env = {"PATH": "/usr/bin:/bin", "SIGNPOST_DATA_DIR": str(tmp_path), "SIGNPOST_DEBUG": debug}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == str(required), out.stderr


def test_chain_heads_still_point_at_real_events(settings, django_capture_on_commit_callbacks):
    """Sanity for the truncation helper: after the attack the chain verifies on its own."""
    settings.AUDIT_ANCHOR_EVERY = 0
    write(4, django_capture_on_commit_callbacks)
    truncate_tail(keep_seq=2)
    assert integrity.verify(anchor_file="/nonexistent", require_anchor=False).ok
    assert ChainHead.objects.get(pk=1).last_seq == 2 and connection.vendor in ("sqlite", "postgresql")


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs the Redis broker a deployment's worker reads")
def test_with_a_worker_the_writer_queues_its_anchor_instead_of_walking_the_log_in_the_request(
        settings, anchor_file, django_capture_on_commit_callbacks):
    """Anchoring walks every event since the last anchor: on a large log that took longer than a
    request may (a search timed out at 1M events), so with a worker the request only queues it."""
    import redis

    settings.AUDIT_ANCHOR_IN_PROCESS = False
    settings.AUDIT_ANCHOR_EVERY = 2
    broker = redis.Redis.from_url(django_settings.REDIS_URL)
    broker.delete("celery")
    try:
        write(2, django_capture_on_commit_callbacks)
        assert not anchor_file.exists() or not integrity.read_anchors(anchor_file)
        queued = [json.loads(message)["headers"]["task"] for message in broker.lrange("celery", 0, -1)]
        assert queued == ["audit.tasks.anchor_chain_heads"]
    finally:
        broker.delete("celery")
