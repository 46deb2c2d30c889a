"""One module per benchmark: its loader, answer extractor and scorer, registered by name.

Importing this package registers every benchmark in it."""
from evalkit.core.registry import import_submodules

import_submodules(__name__)
