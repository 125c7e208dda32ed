"""Where a session's workspace secret lives: never in the address bar, kept by the browser in
a cookie, or named by a sign-in (issue 22, parts 4 and 5; no browser here, see
``tests/test_workspace_browser.py`` for Chromium)."""

import hashlib
import hmac
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from explorer import runs
from explorer.ui import browser_cookie, train_page

TIMEOUT = 120
APP = str(Path(__file__).resolve().parent / "app_entry.py")
PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
KEPT = "a" * 32
OLD_LINK = "b" * 32
KEY = "k" * 32
ISSUER = "http://127.0.0.1:9/"
SECRETS = {
    "auth": {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "c" * 32,
        "client_id": "cnn-explorer",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": ISSUER + ".well-known/openid-configuration",
    },
    "workspace_key": KEY,
}
"""A server configured for sign-in (nothing here is contacted)."""


def keep_cookie(monkeypatch, value: str | None) -> None:
    """Pretend the browser sent ``value`` in the workspace cookie when the session began."""
    cookies = {train_page.WORKSPACE_COOKIE: value}
    monkeypatch.setattr(browser_cookie, "kept", cookies.get)


def opened(query: dict | None = None, secrets: dict | None = None, user: dict | None = None):
    """The app run once with ``query`` in its address, ``secrets`` and a signed-in ``user``."""
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.query_params.update(query or {})
    app.secrets = secrets or {}
    app.user = user or {}
    return app.run()


def test_a_signed_in_users_workspace_is_a_keyed_hash_of_issuer_and_subject():
    key = KEY.encode()
    alice = runs.workspace_for_identity(ISSUER, "alice", key)
    digest = hmac.new(key, json.dumps([ISSUER, "alice"]).encode(), hashlib.sha256).hexdigest()
    assert alice == digest[:32] and runs.is_workspace_id(alice)
    assert alice == runs.workspace_for_identity(ISSUER, "alice", key), "the same on any computer"
    others = {
        runs.workspace_for_identity(ISSUER, "bob", key),
        runs.workspace_for_identity("http://other/", "alice", key),
        runs.workspace_for_identity(ISSUER[:-1], "/alice", key),
        runs.workspace_for_identity(ISSUER, "alice", b"another server's key"),
    }
    assert alice not in others and len(others) == 4


def test_the_first_kept_workspace_id_wins_and_anything_else_is_skipped():
    assert runs.first_workspace_id(None, "", "../" + KEPT[3:], KEPT, OLD_LINK) == KEPT
    assert runs.first_workspace_id(None, "A" * 32) is None


def test_a_reload_reattaches_to_the_newest_run_of_its_own_workspace():
    records = [SimpleNamespace(workspace=workspace) for workspace in (KEPT, OLD_LINK, KEPT)]
    assert runs.newest_run_in(records, KEPT) is records[2]
    assert runs.newest_run_in(records, "c" * 32) is None


def test_the_address_never_holds_the_workspace_and_the_cookie_names_it(monkeypatch):
    keep_cookie(monkeypatch, KEPT)
    app = opened({"kernel_size": "5"})
    assert not app.exception
    assert app.session_state[train_page.WORKSPACE_KEY] == KEPT, "a reload finds the workspace"
    assert dict(app.query_params) == {"kernel_size": "5"}
    app.switch_page(str(PAGES_DIR / "5_train.py")).run()
    assert "workspace" not in app.query_params and "run" not in app.query_params
    keep_cookie(monkeypatch, None)
    fresh = opened()
    workspace = fresh.session_state[train_page.WORKSPACE_KEY]
    assert runs.is_workspace_id(workspace) and workspace != KEPT, "another browser: a new one"


def test_an_old_link_is_adopted_once_and_leaves_the_address_bar(monkeypatch):
    keep_cookie(monkeypatch, KEPT)
    app = opened({"workspace": OLD_LINK, "run": "c" * 32, "stride": "2"})
    assert app.session_state[train_page.WORKSPACE_KEY] == OLD_LINK, "a bookmark keeps working"
    assert dict(app.query_params) == {"stride": "2"}


def test_the_train_page_says_the_browser_keeps_the_workspace(monkeypatch):
    keep_cookie(monkeypatch, KEPT)
    app = opened({"train_dataset": "shapes"})
    app.switch_page(str(PAGES_DIR / "5_train.py")).run()
    captions = " ".join(caption.value for caption in app.caption)
    assert "keeps in a cookie (never in the page's address" in captions
    assert "Anyone given the full address" not in captions


def test_with_sign_in_the_workspace_pages_ask_for_it_and_the_other_labs_stay_open(
    monkeypatch,
):
    keep_cookie(monkeypatch, KEPT)
    app = opened({"workspace": OLD_LINK}, SECRETS, {"is_logged_in": False})
    assert not app.exception and "workspace" not in app.query_params
    for page in ("5_train.py", "6_inspect.py"):
        app.switch_page(str(PAGES_DIR / page)).run()
        assert not app.exception, page
        assert [button.label for button in app.main.button] == ["Sign in"], page
        assert train_page.WORKSPACE_KEY not in app.session_state, "not the link's or cookie's"
    app.switch_page(str(PAGES_DIR / "2_convolution.py")).run()
    assert not app.exception and not [b for b in app.main.button if b.label == "Sign in"]


@pytest.mark.parametrize("subject", ["alice", "bob"])
def test_a_signed_in_user_gets_the_workspace_of_their_identity_until_sign_out(monkeypatch, subject):
    keep_cookie(monkeypatch, KEPT)
    user = {"is_logged_in": True, "iss": ISSUER, "sub": subject, "name": subject.title()}
    app = opened({"workspace": OLD_LINK}, SECRETS, user)
    app.switch_page(str(PAGES_DIR / "5_train.py")).run()
    assert not app.exception
    own = runs.workspace_for_identity(ISSUER, subject, KEY.encode())
    assert app.session_state[train_page.WORKSPACE_KEY] == own
    assert "workspace" not in app.query_params
    assert f"Signed in as **{subject.title()}**" in [c.value for c in app.sidebar.caption]
    assert any("follow you to any computer" in caption.value for caption in app.caption)
    app.button(key="sign_out").click().run()
    assert train_page.WORKSPACE_KEY not in app.session_state, "the workspace is closed"
    assert not app.user.get("is_logged_in")
