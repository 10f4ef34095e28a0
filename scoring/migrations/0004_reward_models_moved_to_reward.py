"""The reward model's models moved to the reward app (its migration 0001 takes them over): state only, no table is
dropped."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('scoring', '0003_scoperecompute_marks_in_cache'),
        ('reward', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name='ClipScore'),
                migrations.DeleteModel(name='AgreementReport'),
                migrations.DeleteModel(name='RewardModelVersion'),
            ],
        ),
    ]
