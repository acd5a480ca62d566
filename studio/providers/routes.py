"""Importing this module registers every route with `base.REGISTRY`."""

from . import videos_gateway  # noqa: F401
from . import aggregator  # noqa: F401
from . import gemini  # noqa: F401
from . import tasks_api  # noqa: F401
from . import openai_video  # noqa: F401
