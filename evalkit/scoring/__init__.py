"""Answer extractors and scorers: small pure functions registered by name.

An extractor maps (model output, doc) to a comparable answer; a scorer maps
(extracted answer, reference, doc) to a Score. Importing this package
registers every module in it.
"""
from evalkit.core.registry import import_submodules

import_submodules(__name__)
