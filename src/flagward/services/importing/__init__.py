"""Import flags and segments from LaunchDarkly (``flagward import``, ``POST /api/v2/projects/{p}/import``).

One transaction per item (a segment, or a flag with the configurations the input has for it): an item is
stored whole or refused whole, with the path and reason, and never stops the others. See ``items`` for
the write path every item takes, ``sdk`` and ``rest`` for the two input formats.
"""

from flagward.services.importing.items import ImportOptions
from flagward.services.importing.rest import import_rest
from flagward.services.importing.sdk import import_environment

__all__ = ["ImportOptions", "import_environment", "import_rest"]
