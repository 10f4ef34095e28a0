"""The snapshot's digest moves from the free-form `extra` JSON into a column of its own."""
from django.db import migrations, models

BATCH = 500


def digest_to_column(apps, schema_editor):
    Snapshot = apps.get_model("scoring", "LeaderboardSnapshot")
    snapshots = Snapshot.objects.using(schema_editor.connection.alias)
    changed = []
    for snapshot in snapshots.only("id", "extra").iterator(chunk_size=BATCH):
        extra = dict(snapshot.extra or {})
        snapshot.digest = str(extra.pop("digest", ""))
        snapshot.extra = extra
        changed.append(snapshot)
        if len(changed) == BATCH:
            snapshots.bulk_update(changed, ["digest", "extra"])
            changed = []
    snapshots.bulk_update(changed, ["digest", "extra"])


def digest_to_extra(apps, schema_editor):
    Snapshot = apps.get_model("scoring", "LeaderboardSnapshot")
    snapshots = Snapshot.objects.using(schema_editor.connection.alias)
    changed = []
    for snapshot in snapshots.exclude(digest="").only("id", "extra", "digest").iterator(chunk_size=BATCH):
        snapshot.extra = {**(snapshot.extra or {}), "digest": snapshot.digest}
        changed.append(snapshot)
        if len(changed) == BATCH:
            snapshots.bulk_update(changed, ["extra"])
            changed = []
    snapshots.bulk_update(changed, ["extra"])


class Migration(migrations.Migration):

    dependencies = [
        ('scoring', '0004_reward_models_moved_to_reward'),
    ]

    operations = [
        migrations.AddField(
            model_name='leaderboardsnapshot',
            name='digest',
            field=models.CharField(default='', max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(digest_to_column, digest_to_extra),
    ]
