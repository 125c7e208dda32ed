"""The one exception type a user can cause, with a message meant for people."""


class ExplorerError(ValueError):
    """A problem caused by user input (a file, a setting, a diverging run).

    The message is written for the person using the app: pages show it with
    ``st.error`` as it is, so it should say what went wrong and what to try.
    """
