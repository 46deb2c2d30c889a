"""Answer extractors and scorers: small pure functions registered by name.

An extractor maps (model output, doc) to a comparable answer; a scorer maps
(extracted answer, reference, doc) to a Score. Importing this package
registers the built-in ones.
"""
from evalkit.scoring import basic, bbh  # noqa: F401  (registration side effects)
