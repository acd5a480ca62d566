"""The safety net: once a minute the scheduler restarts the tracker if tasks are
in flight and nobody holds its lease (a worker was killed, a message was lost).
The tracker's own cadence never depends on this tick."""

from django.db import migrations


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="dailies-tracker-safety-net",
        defaults={"func": "studio.tasks.queue.kick_tracker", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="dailies-tracker-safety-net").delete()


class Migration(migrations.Migration):
    dependencies = [("tasks", "0001_initial"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(add_schedule, remove_schedule)]
