"""CNN Explorer: pure, testable building blocks behind the Streamlit app.

Every module here outside the :mod:`explorer.ui` package is free of Streamlit, so the same
functions serve the pages, the command line, the tests and the benchmarks.
"""

from explorer.errors import ExplorerError

__all__ = ["ExplorerError"]
