"""Evaluators: how a task of one ``output_type`` turns docs into scored samples.

Each evaluator takes every task of its type at once, so requests from all of
them reach the backend together, and returns the SampleRecords of each task.
Importing this package registers every evaluator module in it.
"""
from evalkit.core.registry import import_submodules
from evalkit.run.context import EvalContext, TaskRun

__all__ = ["EvalContext", "TaskRun"]

import_submodules(__name__)
