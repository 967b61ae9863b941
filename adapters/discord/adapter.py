"""The Discord adapter: gateway events in, webhook messages out as each character."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, ClassVar

import discord
from botkit.adapters.discord.menu import build_command_tree
from botkit.adapters.discord.shards import shard_range
from botkit.adapters.discord.translate import channel_key, message_event, webhook_name
from discord import app_commands

from botkit.adapter import AdapterContext, Capabilities, EventSink
from botkit.events import Author, ChannelKey, CommandEvent, Identity, Permission
from botkit.messages import split_text
from botkit.options import Option
from botkit.plugin import Command

__all__ = ["DiscordAdapter"]

log = logging.getLogger(__name__)

WEBHOOK_NAME = "botkit"
MAX_LENGTH = 2000


class DiscordAdapter:
    """Runs botkit on Discord.

    Characters post through one webhook per channel (threads use their parent's), each
    message with the character's name and avatar. Messages from other bots are ignored
    unless ``allow_bots``; our own webhook echoes always are. Cast and scene commands
    need Manage Server, or the role named ``manage_role``. By default every shard Discord
    recommends runs here; ``shard_count`` (the bot's total) with ``shard_ids`` (a list,
    or a range like ``"0-3"``) runs only those shards, so several processes can split
    the guilds, each receiving only the events of guilds on its shards.
    With ``stream_interval`` (seconds, at least 1 to respect Discord's edit limits in
    production) a reply appears as soon as its first sentence is written and its message
    is edited as it grows; otherwise it is posted once complete.
    """

    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "token": Option("text", required=True),
        "allow_bots": Option("flag"),
        "manage_role": Option("text"),
        "sync_commands": Option("flag"),
        "shard_ids": Option("any"),
        "shard_count": Option("whole", 1),
        "stream_interval": Option("number", 0, above=True),
    }
    """What ``adapters.discord`` takes; checked with the rest of the config."""
    name = "discord"

    def __init__(
        self,
        *,
        token: str,
        allow_bots: bool = False,
        manage_role: str | None = None,
        sync_commands: bool = True,
        shard_ids: Sequence[int] | str | int | None = None,
        shard_count: int | None = None,
        character_names: Callable[[], Sequence[str]] = lambda: (),
        stream_interval: float | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        shards = shard_range(shard_ids, shard_count)
        self._token = token
        self._stream_interval = stream_interval
        self.capabilities = Capabilities(
            personas=True,
            streaming=stream_interval is not None,
            max_text_len=MAX_LENGTH,
            typing=True,
        )
        self._allow_bots = allow_bots
        self._manage_role = manage_role
        self._sync_commands = sync_commands
        self._ready_timeout = ready_timeout
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.message_content = True
        sharding: dict[str, Any] = {"shard_count": shard_count}
        if shards is not None:
            sharding["shard_ids"] = shards
        self._client = discord.AutoShardedClient(
            intents=intents, chunk_guilds_at_startup=False, guild_ready_timeout=0.5, **sharding
        )
        self._character_names = character_names
        self._tree: app_commands.CommandTree[discord.Client] | None = None
        self._client.event(self.on_ready)
        self._client.event(self.on_message)
        self._sink: EventSink | None = None
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._webhooks: dict[int, discord.Webhook] = {}
        self._own_webhooks: set[int] = set()
        self._interactions: dict[str, discord.Interaction] = {}
        self._synced: set[int] = set()

    def __repr__(self) -> str:
        return f"DiscordAdapter(shards={self._client.shard_ids!r})"

    @classmethod
    def from_config(cls, options: Mapping[str, Any], context: AdapterContext) -> DiscordAdapter:
        """Build from the ``adapters.discord`` config section.

        Raises:
            ValueError: the token is missing, or a shard option is wrong (one line naming it).
        """
        token = options.get("token")
        if not token:
            raise ValueError("token is required (the bot token, e.g. token: ${DISCORD_TOKEN})")
        return cls(
            token=str(token),
            allow_bots=bool(options.get("allow_bots", False)),
            manage_role=options.get("manage_role"),
            sync_commands=bool(options.get("sync_commands", True)),
            shard_ids=options.get("shard_ids"),
            shard_count=options.get("shard_count"),
            character_names=context.character_names,
            stream_interval=options.get("stream_interval"),
        )

    async def start(self, sink: EventSink, commands: Sequence[Command] = ()) -> None:
        """Log in, connect the gateway, and return once the guilds are ready; ``commands``
        become the slash commands."""
        self._sink = sink
        self._tree = build_command_tree(
            self._client, self._run_command, commands, self._character_names
        )
        await self._client.login(self._token)
        self._runner = asyncio.create_task(self._connect(), name="botkit: discord gateway")
        ready = asyncio.ensure_future(self._ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._runner}, timeout=self._ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            await self.stop()
            if self._runner.done() and self._runner.exception():
                raise RuntimeError(f"discord: could not connect: {self._runner.exception()}")
            raise RuntimeError("discord: the gateway did not become ready in time")

    async def _connect(self) -> None:
        try:
            await self._client.connect(reconnect=True)
        finally:
            self._closed.set()

    async def wait_closed(self) -> None:
        """Return once the gateway connection has ended for good."""
        await self._closed.wait()

    async def stop(self) -> None:
        """Disconnect."""
        await self._client.close()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
        self._closed.set()

    async def on_ready(self) -> None:
        """Register slash commands in every guild (once) and mark the adapter ready."""
        if self._sync_commands and self._tree is not None:
            for guild in self._client.guilds:
                if guild.id not in self._synced:
                    self._tree.copy_global_to(guild=guild)
                    await self._tree.sync(guild=guild)
                    self._synced.add(guild.id)
        self._ready.set()

    async def on_message(self, message: discord.Message) -> None:
        """Hand a member's message to botkit; ignore our own posts and (by default) bots."""
        if self._sink is None or not message.content:
            return
        if message.webhook_id is not None and (
            message.webhook_id in self._own_webhooks
            or message.application_id == self._client.application_id
        ):
            return
        if self._client.user and message.author.id == self._client.user.id:
            return
        if message.author.bot and not self._allow_bots:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        await self._sink(message_event(message))

    async def _run_command(
        self, interaction: discord.Interaction, name: str, args: tuple[str, ...]
    ) -> None:
        """Acknowledge at once (Discord allows 3 s), then queue the command for botkit."""
        if self._sink is None or interaction.channel is None:
            return
        summary = " ".join((name, *args))
        await interaction.response.send_message(f"/{summary}", ephemeral=True)
        event = CommandEvent(
            event_id=f"discord:{interaction.id}",
            channel=channel_key(interaction.channel, interaction.guild_id),
            author=_author(interaction),
            name=name,
            args=args,
            permissions=self._permissions(interaction),
        )
        self._interactions[event.event_id] = interaction
        await self._sink(event)

    def _permissions(self, interaction: discord.Interaction) -> Permission:
        granted = Permission.NONE
        if interaction.permissions.manage_guild:
            granted |= Permission.MANAGE
        roles = getattr(interaction.user, "roles", [])
        if self._manage_role and any(role.name == self._manage_role for role in roles):
            granted |= Permission.MANAGE
        return granted

    async def post_reply(
        self, *, channel: ChannelKey, identity: Identity, text: str, reply_to: str | None = None
    ) -> str | None:
        """Post the reply through the channel's webhook under the character's name and avatar."""
        return str((await self._execute(channel, identity, text)).id)

    async def show_typing(self, *, channel: ChannelKey, identity: Identity) -> None:
        """Show the bot as typing in the channel (for about 10 s)."""
        await self._messageable(channel).typing()

    async def stream_reply(
        self,
        *,
        channel: ChannelKey,
        identity: Identity,
        fragments: AsyncIterator[str],
        reply_to: str | None = None,
    ) -> str | None:
        """Post the reply early and edit it as it grows, at most once per
        ``stream_interval``; split within 2,000 characters at the end."""
        interval = self._stream_interval or 0.0
        loop = asyncio.get_running_loop()
        text, shown, last_edit = "", "", 0.0
        message: discord.WebhookMessage | None = None
        async for fragment in fragments:
            text += fragment
            if len(text) > MAX_LENGTH or not text.strip():
                continue
            if message is None:
                message = await self._execute(channel, identity, text)
                shown, last_edit = text, loop.time()
            elif loop.time() - last_edit >= interval:
                await self._edit(channel, message, text)
                shown, last_edit = text, loop.time()
        pieces = split_text(text, MAX_LENGTH)
        if not pieces:
            return str(message.id) if message else None
        if message is None:
            message = await self._execute(channel, identity, pieces[0])
        elif pieces[0] != shown:
            await self._edit(channel, message, pieces[0])
        for piece in pieces[1:]:
            message = await self._execute(channel, identity, piece)
        return str(message.id)

    async def _edit(
        self, channel: ChannelKey, message: discord.WebhookMessage, content: str
    ) -> None:
        webhook = await self._webhook(int(channel.channel))
        thread = discord.Object(id=int(channel.thread)) if channel.thread else discord.utils.MISSING
        await webhook.edit_message(message.id, content=content, thread=thread)

    async def _execute(
        self, channel: ChannelKey, identity: Identity, content: str
    ) -> discord.WebhookMessage:
        thread = discord.Object(id=int(channel.thread)) if channel.thread else discord.utils.MISSING
        for attempt in (1, 2):
            webhook = await self._webhook(int(channel.channel))
            try:
                return await webhook.send(
                    content=content,
                    username=webhook_name(identity.name),
                    avatar_url=identity.avatar or discord.utils.MISSING,
                    thread=thread,
                    wait=True,
                    allowed_mentions=discord.AllowedMentions(everyone=False, roles=False),
                )
            except discord.NotFound:
                log.warning("webhook of channel %s was deleted; creating a new one", channel)
                self._webhooks.pop(int(channel.channel), None)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _webhook(self, channel_id: int) -> discord.Webhook:
        """The channel's botkit webhook: cached, found among existing ones, or created."""
        webhook = self._webhooks.get(channel_id)
        if webhook is not None:
            return webhook
        channel = self._client.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
            raise RuntimeError(f"discord: channel {channel_id} cannot hold webhooks")
        mine = [
            hook
            for hook in await channel.webhooks()
            if hook.name == WEBHOOK_NAME
            and hook.token
            and (hook.user is None or hook.user == self._client.user)
        ]
        webhook = mine[0] if mine else await channel.create_webhook(name=WEBHOOK_NAME)
        self._webhooks[channel_id] = webhook
        self._own_webhooks.add(webhook.id)
        return webhook

    def _messageable(self, channel: ChannelKey) -> discord.abc.Messageable:
        found = self._client.get_channel(int(channel.thread or channel.channel))
        if not isinstance(found, discord.abc.Messageable):
            raise RuntimeError(f"discord: channel {channel} is not available")
        return found

    async def send_notice(
        self, *, channel: ChannelKey, text: str, command: CommandEvent | None = None
    ) -> None:
        """Answer a command as a follow-up only its caller sees (as the acknowledgement), or
        post in the channel when there is no interaction to answer."""
        interaction = self._interactions.pop(command.event_id, None) if command else None
        for piece in split_text(text, MAX_LENGTH):
            if interaction is not None:
                await interaction.followup.send(piece, ephemeral=True)
            else:
                await self._messageable(channel).send(piece)


def _author(interaction: discord.Interaction) -> Author:
    user = interaction.user
    return Author(str(user.id), user.display_name, user.bot)
