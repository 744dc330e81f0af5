"""Access through an involvement becomes the organisation's: one guardian group permission per
(organisation, child) with an open involvement, instead of one grant per practitioner.

The per-practitioner involvement grants are revoked (kept, so history still reads), and their
user object permissions dropped where no other live grant (access request, break-glass) needs
them. Reversing puts nothing back: run ``seed_demo`` or let feeds re-send to rebuild.
"""

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    Organisation = apps.get_model("practitioners", "Organisation")
    Group = apps.get_model("auth", "Group")
    Involvement = apps.get_model("children", "Involvement")
    AccessGrant = apps.get_model("practitioners", "AccessGrant")
    UserPermission = apps.get_model("practitioners", "ChildUserObjectPermission")
    GroupPermission = apps.get_model("practitioners", "ChildGroupObjectPermission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    now = timezone.now()

    for organisation in Organisation.objects.filter(access_group__isnull=True):
        organisation.access_group = Group.objects.create(name=f"organisation-{organisation.pk}-access")
        organisation.save(update_fields=["access_group"])

    pairs = set(Involvement.objects.filter(ended_on__isnull=True).values_list("organisation_id", "child_id"))
    involvement_grants = AccessGrant.objects.filter(source="involvement", revoked_at__isnull=True)
    if not pairs and not involvement_grants.exists():
        return  # a new database: view_child is created after the migrations run
    content_type, _ = ContentType.objects.get_or_create(app_label="children", model="child")
    permission, _ = Permission.objects.get_or_create(content_type=content_type, codename="view_child",
                                                     defaults={"name": "Can view child"})
    groups = dict(Organisation.objects.values_list("pk", "access_group_id"))
    GroupPermission.objects.bulk_create(
        [GroupPermission(group_id=groups[org], permission=permission, content_object_id=child) for org, child in pairs],
        ignore_conflicts=True, batch_size=5000)

    revoked = list(involvement_grants.values_list("practitioner__user_id", "child_id"))
    involvement_grants.update(revoked_at=now)
    still = set(AccessGrant.objects.filter(revoked_at__isnull=True, expires_at__gt=now)
                .values_list("practitioner__user_id", "child_id"))
    for user_id, child_id in set(revoked) - still:
        UserPermission.objects.filter(user_id=user_id, permission=permission, content_object_id=child_id).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("practitioners", "0011_organisation_access"),
        ("children", "0011_fill_namekeys"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
