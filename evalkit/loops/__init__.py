"""Multi-round, tool-using evaluation loops: CRITIC (verify -> critique -> revise)
and tool-integrated reasoning (ToRA, PAL).

Every loop is batched: each round sends every still-unfinished sample of every
task to the backend in ONE ``ctx.generate`` call, and every round's prompt
holds the earlier rounds, so the generation cache resumes a killed run.
"""
from evalkit.core.registry import import_submodules

import_submodules(__name__)
