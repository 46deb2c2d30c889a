"""evalkit: an LLM evaluation harness.

task spec -> requests -> backend -> responses -> aggregator/critic -> scorer -> metrics -> store -> report
"""
__version__ = "0.1.0"
