from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0003_import_preferences"),
    ]

    operations = [
        migrations.AlterField(
            model_name="campaign",
            name="slug",
            field=models.SlugField(
                help_text="The campaign's address: /c/ followed by the slug, as in /c/pilot-study/.",
                max_length=64,
                unique=True,
            ),
        ),
    ]
