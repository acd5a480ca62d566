import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

from studio.startup import cannot_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
try:
    application = get_wsgi_application()
except ImproperlyConfigured as error:
    print(cannot_start(error), file=sys.stderr, flush=True)
    # 4 is gunicorn's "App failed to load": it stops, where any other code has it start the worker again.
    sys.exit(4)
