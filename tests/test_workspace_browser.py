"""The workspace secret in a real browser (issue 22, parts 4 and 5): headless Chromium keeps it
in a cookie and never shows it in the address bar, a reload finds the workspace and its run,
a fresh browser gets another; on a server configured for sign-in against a real OpenID
Connect provider (``oidc-provider-mock``, started here), each user sees only their own
models and signing out closes the workspace."""

from __future__ import annotations

import contextlib
import re
import secrets
from pathlib import Path

import jax
import pytest
from test_browser import CHROMIUM, press_slider, wait_for_app

from bench.app_driver import CHROMIUM_ARGS, free_port, streamlit_server
from explorer import checkpoints, runs
from explorer.model import ModelSpec, init_variables
from explorer.text import WORD_JOINER
from explorer.ui import train_page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
oidc_provider_mock = pytest.importorskip("oidc_provider_mock", reason="needs oidc-provider-mock")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

HEX_32 = re.compile(r"[0-9a-f]{32}")
TRAIN = "train?train_dataset=shapes"
"""The Train page on the generated shapes (no download), down to its saved models."""
NO_MODELS = "No saved models in this session yet"
WORKSPACE_KEY = secrets.token_hex(32)
"""The class server's key that turns identities into workspace ids."""
OLD_LINK = "0" * 32
"""The workspace id in an old link's ``?workspace=`` (a bookmark from before issue 22)."""
SECRETS_TOML = """workspace_key = "{workspace_key}"

[auth]
redirect_uri = "{url}/oauth2callback"
cookie_secret = "{cookie_secret}"
client_id = "cnn-explorer"
client_secret = "{client_secret}"
server_metadata_url = "{provider}/.well-known/openid-configuration"
"""
"""A class server's sign-in settings, written to a temporary file (never to the repository)."""


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (the Debian package), one per module."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def fresh_tab(browser):
    """A tab in a new browser context: a fresh profile, as on another computer."""
    tab = browser.new_context(viewport={"width": 1400, "height": 2600}).new_page()
    tab.set_default_timeout(90_000)
    return tab


def open_page(tab, url: str, path: str) -> None:
    """Open ``path`` and wait until its script has drawn the page (its title first: a fresh
    server's first run imports JAX before anything shows)."""
    tab.goto(f"{url}/{path}")
    tab.locator('[data-testid="stMain"] h1').first.wait_for()
    wait_for_app(tab)
    assert tab.locator('[data-testid="stException"]').count() == 0


def workspace_cookie(tab, wait: bool = True) -> str | None:
    """The workspace id this tab's browser keeps (once the page has written it, unless
    ``wait`` is false)."""
    if wait:
        name = train_page.WORKSPACE_COOKIE
        tab.wait_for_function(f"() => document.cookie.includes('{name}=')", timeout=60_000)
    kept = {cookie["name"]: cookie["value"] for cookie in tab.context.cookies()}
    return kept.get(train_page.WORKSPACE_COOKIE)


def assert_no_secret_shown(tab, *secret_values: str) -> None:
    """Neither the address bar nor the page's text holds a workspace id or run token."""
    assert "workspace=" not in tab.url and "run=" not in tab.url, tab.url
    assert not HEX_32.search(tab.url), tab.url
    text = tab.locator("body").inner_text()
    for value in secret_values:
        assert value not in text


def checkpoint_file(folder: Path) -> Path:
    """A small valid checkpoint to upload (a 2-class network on 8×8 shapes)."""
    spec = ModelSpec((8, 8, 1), 2, (), (), name="t")
    dataset = {"name": "shapes", "class_names": ["a", "b"], "preprocessing": "resize"}
    variables = jax.device_get(init_variables(spec))
    checkpoints.save_checkpoint(folder, variables, spec, dataset, {})
    return checkpoints.checkpoint_path(folder)


def import_checkpoint(tab, path: Path, name: str) -> None:
    """Upload ``path`` as ``name`` on the Train page's Saved models."""
    upload = tab.locator(".st-key-checkpoint_upload input[type=file]")
    upload.set_input_files(
        files=[
            {
                "name": f"{name}.msgpack",
                "mimeType": "application/octet-stream",
                "buffer": path.read_bytes(),
            }
        ]
    )
    wait_for_app(tab)
    tab.get_by_role("button", name="Import it").click()
    tab.get_by_text(f"Imported {name}").wait_for()
    wait_for_app(tab)


def saved_models(tab) -> list[str]:
    """The names the Train page lists as this workspace's saved models (empty: none)."""
    picker = tab.get_by_label("Checkpoint", exact=True)
    tab.get_by_text(NO_MODELS).or_(picker).first.wait_for()
    wait_for_app(tab)
    if tab.get_by_text(NO_MODELS).count():
        return []
    for _ in range(6):  # a click during a late rerun is lost with the redrawn list
        picker.click()
        with contextlib.suppress(sync_api.TimeoutError):
            tab.get_by_role("option").first.wait_for(timeout=5_000)
            break
        wait_for_app(tab)
    else:
        pytest.fail("the Checkpoint list did not open in six clicks")
    names = [option.inner_text() for option in tab.get_by_role("option").all()]
    tab.keyboard.press("Escape")
    return names


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory):
    """The app as it runs by default (no sign-in); yield its URL and runs root."""
    folder = tmp_path_factory.mktemp("cookie")
    with streamlit_server(folder) as (url, _):
        yield url, folder / "runs"


def test_the_browser_keeps_the_workspace_and_the_address_bar_never_shows_it(
    browser, plain_server, tmp_path
):
    url, runs_root = plain_server
    tab = fresh_tab(browser)
    open_page(tab, url, "convolution?presenter=1")
    workspace = workspace_cookie(tab)
    assert runs.is_workspace_id(workspace), "the first page view gives the browser a workspace"
    assert_no_secret_shown(tab, workspace)
    open_page(tab, url, f"{TRAIN}&workspace={OLD_LINK}&run={'1' * 32}")
    assert_no_secret_shown(tab, workspace, OLD_LINK)
    tab.wait_for_function(f"() => document.cookie.includes('={OLD_LINK}')", timeout=60_000)
    open_page(tab, url, TRAIN)
    import_checkpoint(tab, checkpoint_file(tmp_path / "mine"), "mine")
    assert (runs_root / OLD_LINK / "mine" / checkpoints.CHECKPOINT_FILE).is_file()
    assert_no_secret_shown(tab, OLD_LINK)
    press_slider(tab, "Epochs", "ArrowLeft", 1)
    tab.get_by_role("button", name="Start training").click()
    tab.wait_for_function("() => document.body.innerText.includes('running ·')", timeout=120_000)
    assert_no_secret_shown(tab, OLD_LINK)
    tab.reload()
    wait_for_app(tab)
    tab.wait_for_function(
        "() => /running ·|Test accuracy/.test(document.body.innerText)", timeout=120_000
    )
    assert_no_secret_shown(tab, OLD_LINK)
    if tab.get_by_role("button", name="Stop").is_enabled():  # a list redrawn every second
        tab.get_by_role("button", name="Stop").click()  # while training loses clicks
        wait_for_app(tab)
    assert "mine" in saved_models(tab), "a reload finds the workspace and its run"
    other = fresh_tab(browser)
    open_page(other, url, TRAIN)
    assert workspace_cookie(other) not in (None, OLD_LINK), "another browser, another workspace"
    assert saved_models(other) == []


@pytest.fixture(scope="module")
def provider():
    """A real OpenID Connect provider on a free loopback port (any client id is accepted;
    its sign-in form asks for the user's subject)."""
    with oidc_provider_mock.run_server_in_thread() as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def class_server(tmp_path_factory, provider):
    """The app configured for sign-in through ``provider``, with its secrets in a temporary
    ``secrets.toml`` named by ``STREAMLIT_SECRETS_FILES``."""
    folder = tmp_path_factory.mktemp("class")
    port = free_port()
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        SECRETS_TOML.format(
            url=f"http://127.0.0.1:{port}",
            provider=provider,
            cookie_secret=secrets.token_hex(32),
            client_secret=secrets.token_hex(16),
            workspace_key=WORKSPACE_KEY,
        )
    )
    with streamlit_server(
        folder, environment={"STREAMLIT_SECRETS_FILES": str(secrets_file)}, port=port
    ) as (url, _):
        yield url, folder / "runs"


def sign_in(tab, url: str, subject: str) -> None:
    """Sign in on the Train page as ``subject`` through the provider's form."""
    open_page(tab, url, TRAIN)
    tab.get_by_role("button", name="Sign in").click()
    tab.locator("input[name=sub]").fill(subject)
    tab.get_by_role("button", name="Authorize").click()
    tab.wait_for_url(re.compile(re.escape(url)))
    wait_for_app(tab)
    open_page(tab, url, TRAIN)
    shown = tab.get_by_text("Signed in as").inner_text().replace(WORD_JOINER, "")
    assert shown == f"Signed in as {subject}"


def sign_out(tab, url: str) -> None:
    """Sign out from the sidebar: Streamlit drops its identity cookie and sends the browser to
    the provider's end-session page (the mock asks to confirm), which sends it back."""
    tab.get_by_role("button", name="Sign out").click()
    tab.wait_for_url(re.compile("/oauth2/end_session"))
    tab.get_by_role("button", name="End session").click()
    tab.wait_for_url(f"{url}/")
    open_page(tab, url, TRAIN)


def test_signed_in_users_see_only_their_own_models_and_sign_out_closes_the_workspace(
    browser, provider, class_server, tmp_path
):
    url, runs_root = class_server
    tab = fresh_tab(browser)
    open_page(tab, url, "convolution")
    assert tab.get_by_role("button", name="Sign in").count() == 0, "the labs stay open"
    open_page(tab, url, TRAIN)
    assert tab.get_by_role("button", name="Sign in").count() == 1
    assert tab.get_by_text(NO_MODELS).count() == 0, "no workspace before sign-in"
    sign_in(tab, url, "alice@school.example")
    assert saved_models(tab) == []
    import_checkpoint(tab, checkpoint_file(tmp_path / "alice"), "alices-model")
    assert saved_models(tab) == ["alices-model"]
    assert_no_secret_shown(tab)
    assert workspace_cookie(tab, wait=False) is None, "the sign-in names it, no cookie"
    alice = runs.workspace_for_identity(provider, "alice@school.example", WORKSPACE_KEY.encode())
    assert [path.name for path in runs_root.iterdir()] == [alice], "named by a keyed hash"
    sign_out(tab, url)
    assert not [c for c in tab.context.cookies() if c["name"].startswith("_streamlit_user")]
    assert tab.get_by_role("button", name="Sign in").count() == 1, "the workspace is closed"
    assert tab.get_by_text("alices-model").count() == 0
    sign_in(tab, url, "bob@school.example")
    assert saved_models(tab) == [], "Bob does not see Alice's model"
    import_checkpoint(tab, checkpoint_file(tmp_path / "bob"), "bobs-model")
    assert saved_models(tab) == ["bobs-model"]
    other_computer = fresh_tab(browser)
    sign_in(other_computer, url, "alice@school.example")
    assert saved_models(other_computer) == ["alices-model"], "hers follow her, not Bob's"
