import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('simulator', '0004_issued_keys_and_worker_renders'),
    ]

    operations = [
        migrations.CreateModel(
            name='SimulatorServiceAccountKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_id', models.CharField(max_length=64, unique=True)),
                ('client_email', models.CharField(max_length=200)),
                ('project_id', models.CharField(max_length=100)),
                ('public_key', models.TextField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
    ]
