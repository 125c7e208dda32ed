"""Entry script for AppTest: runs ``app.py`` from a folder without a ``pages/`` directory.

Streamlit treats an entry script that sits beside a ``pages/`` folder as a
legacy multipage app, and AppTest re-applies that rule before every run, so
reruns would execute the page alone. Running ``app.py`` from here keeps the
app's own ``st.navigation`` in charge, exactly as in the browser once the app
has started.
"""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"), run_name="__main__")
