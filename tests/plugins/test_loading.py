"""Finding plugins: folders, entry points of installed packages, errors, the README's example."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from botkit.app import App, ConfigurationError
from botkit.cli import main
from botkit.config import parse_config
from botkit.plugin_loader import FIRST_PARTY, PluginError, load_plugins
from botkit.testing import InstantBackend, RecordingAdapter
from tests.core.test_conversation import push, said
from tests.plugins.helpers import answer
from tests.support.plugin_packages import install_plugin_package

README = Path(__file__).parents[2] / "README.md"
PING = """
from botkit.plugin import CommandCall, Plugin

plugin = Plugin("ping", "answers pings")


@plugin.command("ping", "answer pong")
async def ping(call: CommandCall) -> str:
    return "pong"
"""


def readme_example() -> str:
    """The plugin that README's "Writing a plugin" shows."""
    section = README.read_text().split("## Writing a plugin", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_botkit_s_own_plugins_load_first_and_in_order() -> None:
    loaded = load_plugins()
    assert [p.plugin.name for p in loaded][: len(FIRST_PARTY)] == list(FIRST_PARTY)
    assert {p.source for p in loaded[: len(FIRST_PARTY)]} == {"built in"}
    assert "dice" not in [p.plugin.name for p in load_plugins(disabled=["dice"])]
    with pytest.raises(PluginError, match=r"plugins.disabled: no plugin called 'dyce'"):
        load_plugins(disabled=["dyce"])


def test_a_folder_s_modules_and_packages_are_plugins(tmp_path: Path) -> None:
    (tmp_path / "ping.py").write_text(PING)
    (tmp_path / "tavern").mkdir()
    (tmp_path / "tavern" / "__init__.py").write_text(readme_example())
    (tmp_path / "_helpers.py").write_text("raise RuntimeError('never imported')")
    (tmp_path / "notes.txt").write_text("not a plugin")
    extra = load_plugins([tmp_path])[len(FIRST_PARTY) :]
    assert [(p.plugin.name, p.source) for p in extra] == [
        ("ping", f"folder {tmp_path / 'ping.py'}"),
        ("tavern", f"folder {tmp_path / 'tavern'}"),
    ]


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {"bad.py": "import no_such_module_here\n"},
            r"bad.py failed to import: ModuleNotFoundError",
        ),
        ({"bad.py": "raise RuntimeError('boom\\nand more')\n"}, r"RuntimeError: boom; and more$"),
        ({"bad.py": "plugin = 42\n"}, r"expected a botkit.plugin.Plugin .*found int"),
        ({"bad.py": "x = 1\n"}, r"expected a botkit.plugin.Plugin .*found NoneType"),
        (
            {"ping.py": PING, "pong.py": PING},
            r"plugin 'ping' from folder .*pong.py: the name is taken",
        ),
        (
            {"cast.py": PING.replace('"ping", "answers', '"cast", "answers')},
            r"taken by the plugin from built in",
        ),
    ],
)
def test_a_plugin_that_cannot_load_is_one_clear_error(
    tmp_path: Path, files: dict[str, str], problem: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(PluginError, match=problem) as caught:
        load_plugins([tmp_path])
    assert "\n" not in str(caught.value)
    with pytest.raises(PluginError, match="is not a folder"):
        load_plugins([tmp_path / "missing"])


def test_an_entry_point_of_an_installed_package_is_a_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = install_plugin_package(
        tmp_path, distribution="botkit-ping", module="botkit_ping", source=PING, entry="ping"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    extra = load_plugins()[len(FIRST_PARTY) :]
    assert [(p.plugin.name, p.source) for p in extra] == [
        ("ping", "entry point ping of botkit-ping 1.0 (botkit_ping:plugin)")
    ]


def test_an_entry_point_that_fails_to_import_names_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = install_plugin_package(
        tmp_path, distribution="botkit-broken", module="botkit_broken", source="1/0\n", entry="x"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    with pytest.raises(
        PluginError, match=r"entry point x of botkit-broken 1.0 .*ZeroDivisionError"
    ):
        load_plugins()


async def test_the_readme_example_works_from_a_configured_folder(
    tmp_path: Path, pack_dir: Path
) -> None:
    folder = tmp_path / "my-plugins"
    folder.mkdir()
    (folder / "tavern.py").write_text(readme_example())
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram"]},
            "memory": {"enabled": False},
            "plugins": {"folders": [str(folder)]},
        }
    )
    backend, adapter = InstantBackend("WELCOME IN!"), RecordingAdapter("test")
    async with App(config, backends={"b": backend}, adapters={"test": adapter}) as app:
        assert await answer(app, adapter, "toast", "the", "sea") == "Ann raises a glass to the sea!"
        assert await answer(app, adapter, "lastcall", manage=False) == (
            "Cannot do that: /lastcall changes this channel and needs the manage permission"
        )
        await push(app, adapter, said("Mira, a room?"))
        assert [r.text for r in adapter.replies] == ["Welcome in!"]
        prompt = "\n".join(m.content for m in backend.requests[-1].messages)
        assert "(raises a glass to the sea)" in prompt


async def test_an_app_whose_plugin_folder_fails_does_not_start(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("import no_such_module_here\n")
    config = parse_config(
        {"data_dir": str(tmp_path / "data"), "plugins": {"folders": [str(tmp_path)]}}
    )
    with pytest.raises(ConfigurationError, match=r"bad\.py failed to import"):
        App(config, adapters={"test": RecordingAdapter("test")})


def test_plugins_list_shows_each_plugin_its_source_and_what_it_adds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "tavern.py").write_text(readme_example())
    config = tmp_path / "botkit.yaml"
    config.write_text(f"plugins:\n  folders: [{folder}]\n  disabled: [dice]\n")
    assert main(["plugins", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "cast (built in): who is in a channel" in out
    assert "  /character add, /add, /mix\n" in out
    assert f"tavern (folder {folder / 'tavern.py'}): toasts, and no shouting\n" in out
    assert "  /toast\n  /lastcall\n  1 reply hook\n" in out
    assert "dice (built in)" not in out
    assert out.rstrip().endswith("disabled: dice")


def test_plugins_list_reports_a_command_two_plugins_claim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "roller.py").write_text(
        PING.replace('"ping", "answer pong"', '"roll", "roll"').replace(
            'Plugin("ping"', 'Plugin("roller"'
        )
    )
    config = tmp_path / "botkit.yaml"
    config.write_text(f"plugins:\n  folders: [{tmp_path}]\n")
    assert main(["plugins", "list", "--config", str(config)]) == 1
    assert capsys.readouterr().err.strip() == (
        "botkit: error: plugins: /roll of plugin 'roller' is already a command of plugin 'dice'"
    )
