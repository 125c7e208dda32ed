"""Where a session's workspace secret lives: never in the address bar, kept by the browser in
a cookie, or named by a sign-in (issue 22, parts 4 and 5; no browser here, see
``tests/test_sign_in_browser.py`` for Chromium)."""

from pathlib import Path
from types import SimpleNamespace

from streamlit.testing.v1 import AppTest

from explorer import runs
from explorer.ui import browser_cookie, train_page

TIMEOUT = 120
APP = str(Path(__file__).resolve().parent / "app_entry.py")
PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
KEPT = "a" * 32
OLD_LINK = "b" * 32


def keep_cookie(monkeypatch, value: str | None) -> None:
    """Pretend the browser sent ``value`` in the workspace cookie when the session began."""
    cookies = {train_page.WORKSPACE_COOKIE: value}
    monkeypatch.setattr(browser_cookie, "kept", cookies.get)


def opened(query: dict | None = None):
    """The app run once with ``query`` in its address."""
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.query_params.update(query or {})
    return app.run()


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
