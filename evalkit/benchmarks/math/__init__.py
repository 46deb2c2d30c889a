"""MATH (Hendrycks et al. 2021): answer extraction, exact numbers, the equivalence grader and its sympy worker."""
from evalkit.core.registry import import_submodules

import_submodules(__name__)
