"""The moved tables take the reward app's names; their content types (and so admin permissions and log entries)
follow, and versions stored under the old module paths point at the new ones."""
from django.db import migrations

MODELS = ("rewardmodelversion", "clipscore", "agreementreport")
OLD_MODULE, NEW_MODULE = "scoring.reward.", "reward.ml."
OLD_WEIGHTS, NEW_WEIGHTS = "scoring/reward/weights", "reward/ml/weights"


def _moved(path, old, new):
    """The bundled weights' folder at its new place; any other checkpoint path as it was."""
    return path[: -len(old)] + new if path.endswith(old) else path


def _config_moved(config, old, new):
    # The bundled version also notes its path in its config.
    if isinstance(config, dict) and isinstance(config.get("path"), str):
        return {**config, "path": _moved(config["path"], old, new)}
    return config


def forwards(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MODELS:
        old = ContentType.objects.using(db).filter(app_label="scoring", model=model)
        if old.exists():
            ContentType.objects.using(db).filter(app_label="reward", model=model).delete()
            old.update(app_label="reward")
    Version = apps.get_model("reward", "RewardModelVersion")
    for version in Version.objects.using(db).all():
        class_path = version.class_path.replace(OLD_MODULE, NEW_MODULE, 1)
        path = _moved(version.path, OLD_WEIGHTS, NEW_WEIGHTS)
        config = _config_moved(version.config, OLD_WEIGHTS, NEW_WEIGHTS)
        if (class_path, path, config) != (version.class_path, version.path, version.config):
            Version.objects.using(db).filter(pk=version.pk).update(class_path=class_path, path=path, config=config)


def backwards(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    ContentType.objects.using(db).filter(app_label="reward", model__in=MODELS).update(app_label="scoring")
    Version = apps.get_model("reward", "RewardModelVersion")
    for version in Version.objects.using(db).all():
        class_path = version.class_path.replace(NEW_MODULE, OLD_MODULE, 1)
        path = _moved(version.path, NEW_WEIGHTS, OLD_WEIGHTS)
        config = _config_moved(version.config, NEW_WEIGHTS, OLD_WEIGHTS)
        Version.objects.using(db).filter(pk=version.pk).update(class_path=class_path, path=path, config=config)


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('reward', '0001_initial'),
        ('scoring', '0004_reward_models_moved_to_reward'),
    ]

    operations = [
        migrations.AlterModelTable(name='rewardmodelversion', table=None),
        migrations.AlterModelTable(name='clipscore', table=None),
        migrations.AlterModelTable(name='agreementreport', table=None),
        migrations.RunPython(forwards, backwards),
    ]
