"""Compute name keys for the names that existed before the NameKey table."""

from django.db import migrations

from children import names


def fill(apps, schema_editor):
    ChildName = apps.get_model("children", "ChildName")
    NameKey = apps.get_model("children", "NameKey")
    batch = []
    for name in ChildName.objects.select_related("child").iterator(chunk_size=2000):
        child = name.child
        district = "" if child.shielded else child.postcode_district
        for given, family, given_key, family_key in names.blocking_keys(name.given_names, name.family_name):
            batch.append(NameKey(child_id=child.pk, name_id=name.pk, given_norm=given, family_norm=family,
                                 given_key=given_key, family_key=family_key, date_of_birth=child.date_of_birth,
                                 postcode_district=district))
        if len(batch) >= 5000:
            NameKey.objects.bulk_create(batch)
            batch = []
    NameKey.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [("children", "0010_namekey")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
