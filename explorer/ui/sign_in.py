"""Sign-in for a class: Streamlit's OpenID Connect login (``st.login``) when the server is
configured for it, and the signed-in user's workspace.

A server is configured when its ``secrets.toml`` has an ``[auth]`` section (Streamlit's own
settings: ``redirect_uri``, ``cookie_secret``, ``client_id``, ``client_secret``,
``server_metadata_url``). Then each user's workspace id is a keyed hash of the provider's
issuer and the user's subject (:func:`explorer.runs.workspace_for_identity`), keyed by the
top-level ``workspace_key`` of ``secrets.toml`` (else ``[auth] cookie_secret``). Without the
section nothing here shows and the browser keeps a random workspace id instead.
"""

from __future__ import annotations

import streamlit as st

from explorer import runs
from explorer.text import escape_markdown

WORKSPACE_KEY_SECRET = "workspace_key"
"""Top-level ``secrets.toml`` key of the secret that turns identities into workspace ids."""


def configured() -> bool:
    """Whether this server asks users to sign in (``secrets.toml`` has an ``[auth]`` section);
    False, without an error, when there is no secrets file at all."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def signed_in() -> bool:
    """Whether this session's user has signed in."""
    return bool(st.user.get("is_logged_in"))


def _workspace_key() -> bytes:
    """The server's secret that keys workspace ids (see the module's docstring)."""
    key = st.secrets.get(WORKSPACE_KEY_SECRET) or st.secrets["auth"]["cookie_secret"]
    return str(key).encode()


def user_workspace_id() -> str | None:
    """The signed-in user's workspace id, or None when nobody is signed in (or the provider
    named no subject)."""
    issuer, subject = st.user.get("iss"), st.user.get("sub")
    if not signed_in() or not subject:
        return None
    return runs.workspace_for_identity(str(issuer or ""), str(subject), _workspace_key())


def user_label() -> str:
    """Who is signed in, for the sidebar: name, else e-mail, else the subject."""
    return str(st.user.get("name") or st.user.get("email") or st.user.get("sub"))


def ask_to_sign_in() -> None:
    """Say why this page needs a sign-in, with a Sign in button (``st.login``)."""
    st.info(
        "Sign in to use your own workspace: the models you train and upload are kept for "
        "you and follow you to any computer. The other labs need no sign-in.",
        icon=":material/lock:",
    )
    st.button("Sign in", icon=":material/login:", type="primary", key="sign_in", on_click=st.login)


def sidebar_user(forget) -> None:
    """Who is signed in and a Sign out button; ``forget`` closes the workspace for this
    session before ``st.logout`` removes the identity cookie and starts a new session."""
    if not signed_in():
        return
    st.sidebar.caption(f"Signed in as **{escape_markdown(user_label())}**")

    def sign_out() -> None:
        forget()
        st.logout()

    st.sidebar.button("Sign out", icon=":material/logout:", key="sign_out", on_click=sign_out)
