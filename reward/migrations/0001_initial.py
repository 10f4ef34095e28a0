"""The reward model's models, moved here from the scoring app: state only, the tables and rows stay as they were
(migration 0002 renames the tables)."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('arena', '0004_rater_flags_battle_abandoned'),
        ('scoring', '0003_scoperecompute_marks_in_cache'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='RewardModelVersion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120, unique=True)),
                        ('class_path', models.CharField(max_length=255)),
                        ('path', models.CharField(max_length=500)),
                        ('sha256', models.CharField(max_length=64)),
                        ('config', models.JSONField(default=dict)),
                        ('metrics', models.JSONField(blank=True, default=dict)),
                        ('active', models.BooleanField(default=False)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'scoring_rewardmodelversion',
                        'ordering': ['-created_at'],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('active', True)), fields=('active',), name='one_active_reward_model')],
                    },
                ),
                migrations.CreateModel(
                    name='AgreementReport',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('scope', models.CharField(default='arena', max_length=100)),
                        ('figures', models.JSONField(default=dict)),
                        ('vote_count', models.PositiveIntegerField(default=0)),
                        ('computed_at', models.DateTimeField(auto_now_add=True)),
                        ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='agreement_reports', to='reward.rewardmodelversion')),
                    ],
                    options={
                        'db_table': 'scoring_agreementreport',
                        'ordering': ['-computed_at'],
                    },
                ),
                migrations.CreateModel(
                    name='ClipScore',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('axis', models.CharField(max_length=40)),
                        ('score', models.FloatField()),
                        ('computed_at', models.DateTimeField(auto_now_add=True)),
                        ('clip', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='scores', to='arena.clip')),
                        ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='scores', to='reward.rewardmodelversion')),
                    ],
                    options={
                        'db_table': 'scoring_clipscore',
                        'constraints': [models.UniqueConstraint(fields=('version', 'clip', 'axis'), name='one_score_per_version_clip_axis')],
                    },
                ),
            ],
        ),
    ]
