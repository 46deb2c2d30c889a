"""A hardened sandbox for running untrusted Python programs (model-written code).

``run_program`` runs one program in a fresh, isolated process tree and returns
an ``ExecResult``; ``run_many`` runs a list in a bounded pool. ``isolation_level``
says what isolation this machine allows (namespaces, dedicated uid, cgroups,
rlimits). See ``runner`` for the process layout and ``_launcher`` for what
"passed" means and what it cannot rule out.
"""
from evalkit.sandbox.result import ExecResult
from evalkit.sandbox.runner import isolation_level, run_many, run_program

__all__ = ["ExecResult", "isolation_level", "run_many", "run_program"]
