"""Everyone a message speaks to answers it, however quickly newer messages follow."""

from __future__ import annotations

from tests.conftest import AppFactory
from tests.core.test_conversation import GatedBackend, said, speaker


async def test_a_character_owed_an_answer_keeps_it_through_two_quick_messages(
    make_app: AppFactory,
) -> None:
    backend = GatedBackend(speaker)
    async with make_app(backend, max_hops=0, cast=["mira", "bram", "wren"]) as (app, adapter):
        first = said("Mira and Bram, what news from the harbour?")
        await adapter.push(first)
        await backend.started.wait()
        await adapter.push(said("Wren, pour me a cider."))
        await adapter.push(said("It is cold out there."))
        backend.gate.set()
        await app.wait_idle()
        names = [r.identity.name for r in adapter.replies]
        assert names[0] == "Mira" and adapter.replies[0].reply_to == first.message_id
        assert "Bram" in names, names
