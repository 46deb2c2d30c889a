"""The static results site: `evalkit site build --out DIR`."""
from evalkit.report.site.build import build_site

__all__ = ["build_site"]
