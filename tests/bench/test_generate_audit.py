"""bench/generate.py --audit-events: a log the verifier accepts, spread over monthly partitions."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit import integrity, partitions
from audit.context import RequestContext
from audit.models import AccessEvent, ChainHead
from audit.services import record_event

from .test_generate import _generator

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the generator writes with PostgreSQL's COPY"),
]


def test_generated_audit_events_verify_across_chains_and_months_and_the_app_appends_after_them(settings):
    generator = _generator()
    generator.generate(children=100, seed=5, workers=1, chunk_size=100, progress=False)
    record_event(action="login.success", context=RequestContext.system("before"))  # a chain already in use

    result = generator.generate_audit_events(events=2_000, seed=5, months=6, workers=2, chunk=300, progress=False)

    assert result["audit_events"] == 2_000 == AccessEvent.objects.exclude(action="login.success",
                                                                          actor_id=None).count()
    report = integrity.verify()
    assert report.ok, report.first_break
    assert report.events_checked == 2_001
    chains = set(AccessEvent.objects.values_list("chain", flat=True).distinct())
    assert chains == set(range(1, settings.AUDIT_CHAINS + 1))
    assert partitions.default_partition_rows() == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT tableoid) FROM audit_accessevent")
        assert cursor.fetchone()[0] >= 6, "six months of events fill at least six monthly partitions"
    oldest = AccessEvent.objects.order_by("occurred_at").values_list("occurred_at", flat=True).first()
    assert timezone.now() - timedelta(days=190) < oldest < timezone.now() - timedelta(days=150)
    assert AccessEvent.objects.filter(action="child.view").exclude(child_ref="").exists()
    for head in ChainHead.objects.all():
        last = AccessEvent.objects.filter(chain=head.id).order_by("-seq").first()
        assert (head.last_seq, head.last_hash, head.last_event_id) == (last.seq, last.hash, last.pk)

    record_event(action="logout", context=RequestContext.system("after"))  # the app links on after them
    assert integrity.verify().ok
