"""Several hash chains, child facts for the anomaly view, the console's indexes, and
(PostgreSQL) monthly range partitions. See docs/decisions.md, "Audit chains" and
"Audit table partitioned by month".

Events written before this migration were hashed over their ``id`` on one chain;
they are re-sealed here as chain 1 in id order, under the new canonical form.
That is the only time an event is ever rewritten: it happens before 0011 installs
the append-only triggers, on a log no anchor has yet been taken of.
"""

import django.utils.timezone
from django.db import migrations, models


def reseal_existing_events(apps, schema_editor):
    from audit.services import GENESIS_HASH, compute_hash

    AccessEvent = apps.get_model("audit", "AccessEvent")
    ChainHead = apps.get_model("audit", "ChainHead")
    prev, seq, last = GENESIS_HASH, 0, None
    for event in AccessEvent.objects.using(schema_editor.connection.alias).order_by("id").iterator():
        seq += 1
        event.chain, event.seq, event.prev_hash = 1, seq, prev
        event.hash = compute_hash(event)
        event.save(update_fields=["chain", "seq", "prev_hash", "hash"])
        prev, last = event.hash, event
    ChainHead.objects.using(schema_editor.connection.alias).exclude(id=1).delete()
    if last is not None:
        ChainHead.objects.using(schema_editor.connection.alias).update_or_create(
            id=1, defaults={"last_seq": seq, "last_hash": prev, "last_event_id": last.pk})
    else:
        ChainHead.objects.using(schema_editor.connection.alias).filter(id=1).delete()


def partition_by_month(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite: one table (the embedded, single-machine setup)
    from audit import guards, partitions

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(guards.PG_FUNCTIONS)
    partitions.convert_to_partitioned(schema_editor.connection)


def unpartition(apps, schema_editor):
    raise RuntimeError("Audit partitioning cannot be reversed: it would mean copying and dropping the log.")


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='AnomalyReview',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('anomaly_key', models.CharField(max_length=80, unique=True)),
                ('kind', models.CharField(max_length=30)),
                ('event_id', models.BigIntegerField(blank=True, db_index=True, null=True)),
                ('comment', models.TextField()),
                ('reviewed_by_id', models.BigIntegerField(null=True)),
                ('reviewed_by_username', models.CharField(max_length=150)),
                ('reviewed_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['-reviewed_at'],
            },
        ),
        migrations.CreateModel(
            name='EventDisclosure',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('event_id', models.BigIntegerField()),
                ('occurred_at', models.DateTimeField()),
                ('child_ref', models.CharField(max_length=13)),
            ],
            options={
                'default_permissions': ('view',),
            },
        ),
        migrations.AlterModelOptions(
            name='accessevent',
            options={'default_permissions': ('view',), 'ordering': ['-occurred_at', '-id']},
        ),
        migrations.AddField(
            model_name='accessevent',
            name='chain',
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AddField(
            model_name='accessevent',
            name='child_local_authority_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='accessevent',
            name='seq',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='accessevent',
            name='shielded',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='chainhead',
            name='last_seq',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='accessevent',
            name='action',
            field=models.CharField(max_length=60),
        ),
        migrations.AlterField(
            model_name='accessevent',
            name='actor_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='accessevent',
            name='child_ref',
            field=models.CharField(blank=True, max_length=13),
        ),
        migrations.AlterField(
            model_name='accessevent',
            name='hash',
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name='accessevent',
            name='local_authority_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='accessevent',
            name='occurred_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name='accessevent',
            name='organisation_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(reseal_existing_events, migrations.RunPython.noop),
        migrations.RunPython(partition_by_month, unpartition),
        migrations.AddIndex(
            model_name='accessevent',
            index=models.Index(fields=['chain', 'seq'], name='auditevent_chain_seq'),
        ),
        migrations.AddIndex(
            model_name='accessevent',
            index=models.Index(fields=['occurred_at', 'id'], name='auditevent_time'),
        ),
        migrations.AddIndex(
            model_name='accessevent',
            index=models.Index(fields=['actor_id', 'occurred_at', 'id'], name='auditevent_actor_time'),
        ),
        migrations.AddIndex(
            model_name='accessevent',
            index=models.Index(fields=['organisation_id', 'occurred_at', 'id'], name='auditevent_org_time'),
        ),
        migrations.AddIndex(
            model_name='accessevent',
            index=models.Index(fields=['action', 'occurred_at', 'id'], name='auditevent_action_time'),
        ),
        migrations.AddIndex(
            model_name='accessevent',
            index=models.Index(condition=models.Q(('child_ref', ''), _negated=True), fields=['child_ref', 'occurred_at', 'id'], name='auditevent_child_time'),
        ),
        migrations.AddIndex(
            model_name='accessevent',
            index=models.Index(condition=models.Q(('outcome', 'denied')), fields=['occurred_at', 'id'], name='auditevent_denied'),
        ),
        migrations.AddIndex(
            model_name='accessevent',
            index=models.Index(condition=models.Q(('shielded', True)), fields=['occurred_at', 'id'], name='auditevent_shielded'),
        ),
        migrations.AddIndex(
            model_name='accessevent',
            index=models.Index(condition=models.Q(('child_local_authority_id__isnull', False), ('local_authority_id__isnull', False), models.Q(('child_local_authority_id', models.F('local_authority_id')), _negated=True)), fields=['occurred_at', 'id'], name='auditevent_out_of_area'),
        ),
        migrations.AddIndex(
            model_name='eventdisclosure',
            index=models.Index(fields=['child_ref', 'occurred_at'], name='disclosure_child_time'),
        ),
    ]
