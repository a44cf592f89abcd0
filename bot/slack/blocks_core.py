"""Block Kit building blocks: escaping, fitting text into Slack's limits, and validating payloads before they
are sent, so a limit is hit in a test rather than as an `invalid_blocks` error in the middle of an incident.

Every string that goes into a block passes through `redact` here, whatever its origin: a finding's evidence
or a stored before-state may still carry a connection string the layers below missed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import ActionsBlock, Block, ContextBlock, InputBlock, SectionBlock
from slack_sdk.models.views import View

from bot.redact import redact
from bot.store.clock import aware

Blocks = list[dict[str, Any]]

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ID_LIMIT = 255
ACTIONS_LIMIT = 25
CONTEXT_LIMIT = 10
FIELDS_LIMIT = 10
VIEW_TITLE_LIMIT = 24
CUT = "… (cut: see the thread)"

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_FENCE = re.compile(r"`(?=``)")


class BlockError(ValueError, SlackObjectFormationError):
    """A payload Slack would refuse. Also a SlackObjectFormationError, so callers catching slack_sdk's own
    validation error catch this too."""


# -- text


def escape(text: str) -> str:
    """Slack's mrkdwn control characters; anything else (`*`, `_`) is formatting Slack offers no escape for."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc(text: object) -> str:
    """Untrusted text for mrkdwn: redacted first (an escaped secret would slip past the patterns), then escaped."""
    return escape(redact(str(text)))


def fit(text: str, limit: int = TEXT_LIMIT) -> str:
    """At most `limit` characters; a cut never leaves half an entity, mention, link or code block behind."""
    if len(text) <= limit:
        return text
    if limit <= len(CUT):
        return text[:limit]
    room = limit - len(CUT)
    head = _whole_tokens(text[:room])
    if head.count("```") % 2:
        # The cut fell inside a code block: close it, or the marker renders as code.
        head = _whole_tokens(head[:max(0, room - 4)])
        if head.count("```") % 2:
            head += "\n```"
    return head + CUT


def _whole_tokens(head: str) -> str:
    opened = head.rfind("<")
    if opened > head.rfind(">"):
        head = head[:opened]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head


def code(text: str, limit: int = TEXT_LIMIT) -> str:
    """A ``` block; a command longer than fits is cut (the full one is in the plan and the audit trail)."""
    # A literal ``` inside would close the block early; a zero-width space keeps it visible and inert.
    inner = _FENCE.sub("`\u200b", esc(text)) or " "
    return f"```{fit(inner, max(1, limit - 6))}```"


def icode(text: object) -> str:
    """Inline code; backticks inside would end it, so they become a look-alike."""
    shown = esc(text).replace("`", "ˋ").replace("\n", " ")
    return f"`{shown}`" if shown.strip() else "`(empty)`"


def mention(actor: str) -> str:
    """A Slack user as a mention, a command-line user as code, anything else (the bot itself) as text."""
    if _USER_ID.fullmatch(actor):
        return f"<@{actor}>"
    if _GROUP_ID.fullmatch(actor):
        return f"<!subteam^{actor}>"
    if actor.startswith("cli:"):
        return icode(actor)
    return esc(actor)


def mentions(actors: Iterable[str]) -> str:
    return ", ".join(mention(a) for a in actors) or "no one"


def people(text: str, ids: Iterable[str]) -> str:
    """Escape product text that names policy ids (who may approve) and turn exactly those ids into mentions."""
    out = esc(text)
    known = sorted({i for i in ids if i}, key=len, reverse=True)
    if not known:
        return out
    pattern = re.compile(r"(?<![\w:^@])(" + "|".join(re.escape(escape(i)) for i in known) + r")(?![\w.@-])")
    return pattern.sub(lambda m: mention(m.group(1)), out)


def slack_date(at: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """Shown in each reader's own time zone; the fallback (UTC) is what clients without date support show."""
    moment = aware(at).astimezone(UTC)
    return f"<!date^{int(moment.timestamp())}^{fmt}|{moment:%Y-%m-%d %H:%M} UTC>"


def when(value: object) -> str:
    if isinstance(value, datetime):
        return slack_date(value)
    if isinstance(value, str):
        try:
            return slack_date(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return esc(value)
    return "-"


# -- blocks


def plain(text: str, limit: int) -> dict[str, Any]:
    # plain_text is not parsed for mentions or links, so it needs redaction but no escaping.
    return {"type": "plain_text", "text": fit(redact(text), limit) or " "}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text, HEADER_LIMIT)}


def section(text: str, *, accessory: dict[str, Any] | None = None, block_id: str | None = None) -> dict[str, Any]:
    """`text` is mrkdwn already escaped by the caller (it may hold mentions and dates on purpose)."""
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": fit(text) or " "}}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id is not None:
        block["block_id"] = block_id
    return block


def context(texts: Sequence[str]) -> dict[str, Any]:
    """Up to ten small mrkdwn lines; more are merged into the last element rather than dropped."""
    items = [t for t in texts if t]
    if len(items) > CONTEXT_LIMIT:
        items = items[:CONTEXT_LIMIT - 1] + ["\n".join(items[CONTEXT_LIMIT - 1:])]
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(t)} for t in items] or
            [{"type": "mrkdwn", "text": " "}]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "button", "text": plain(text, BUTTON_TEXT_LIMIT), "action_id": action_id,
                           "value": value}
    if style is not None:
        out["style"] = style
    return out


def actions(block_id: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id[:ID_LIMIT], "elements": elements[:ACTIONS_LIMIT]}


def line_sections(lines: Sequence[str], max_blocks: int) -> tuple[Blocks, int]:
    """Pack lines into as few sections as fit (each within the text limit); returns them and how many lines
    they show, so a caller can say "showing N of M" truthfully."""
    out: Blocks = []
    current: list[str] = []
    size = shown = 0
    for raw in lines:
        line = fit(raw, 1000)
        if current and size + 1 + len(line) > TEXT_LIMIT:
            if len(out) + 1 >= max_blocks:
                break
            out.append(section("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + (1 if size else 0)
        shown += 1
    if current and len(out) < max_blocks:
        out.append(section("\n".join(current)))
    else:
        shown -= len(current)
    return out, shown


def message(text: str, blocks: Blocks) -> dict[str, Any]:
    """A chat.postMessage / chat.update / ack payload. `text` is the notification fallback, mrkdwn already
    escaped by the caller; it is redacted and fitted here."""
    validate_blocks(blocks)
    return {"text": fit(redact(text)) or "keda-auth", "blocks": blocks}


# -- validation


def validate_blocks(blocks: Blocks, *, limit: int = MAX_BLOCKS) -> None:
    if not isinstance(blocks, list):
        raise BlockError(f"blocks must be a list, got {type(blocks).__name__}")
    if len(blocks) > limit:
        raise BlockError(f"block {limit}: {len(blocks)} blocks, over the limit of {limit} per payload")
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        _check_block(index, block)
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                raise BlockError(f"block {index}: block_id {block_id!r} is used twice; Slack requires unique ids")
            seen.add(block_id)


def _check_block(index: int, block: dict[str, Any]) -> None:
    where = f"block {index} ({block.get('type') if isinstance(block, dict) else type(block).__name__})"
    if not isinstance(block, dict):
        raise BlockError(f"{where}: must be a dict")
    try:
        parsed = Block.parse(block)
    except (TypeError, ValueError, KeyError) as exc:
        raise BlockError(f"{where}: slack_sdk cannot parse it: {exc}") from exc
    if parsed is None:
        raise BlockError(f"{where}: not a block type slack_sdk knows")
    _limit(where, "block_id", block.get("block_id"), ID_LIMIT)
    kind = block.get("type")
    if kind == "section":
        _limit(where, "section text", _text(block.get("text")), TEXT_LIMIT)
        fields = block.get("fields") or []
        if len(fields) > FIELDS_LIMIT:
            raise BlockError(f"{where}: {len(fields)} fields, over the limit of {FIELDS_LIMIT}")
        for field in fields:
            _limit(where, "section field", _text(field), FIELD_LIMIT)
        if block.get("accessory") is not None:
            _check_element(where, block["accessory"])
    elif kind == "header":
        _limit(where, "header text", _text(block.get("text")), HEADER_LIMIT)
    elif kind == "context":
        elements = block.get("elements") or []
        if len(elements) > CONTEXT_LIMIT:
            raise BlockError(f"{where}: {len(elements)} elements, over the limit of {CONTEXT_LIMIT}")
        for element in elements:
            _limit(where, "context text", _text(element), TEXT_LIMIT)
    elif kind == "actions":
        elements = block.get("elements") or []
        if len(elements) > ACTIONS_LIMIT:
            raise BlockError(f"{where}: {len(elements)} elements, over the limit of {ACTIONS_LIMIT}")
        seen: set[str] = set()
        for element in elements:
            _check_element(where, element)
            if element.get("action_id") in seen:
                raise BlockError(f"{where}: action_id {element['action_id']!r} is used twice in one block")
            seen.add(element.get("action_id"))
    elif kind == "input":
        _check_element(where, block.get("element") or {})
    _slack_sdk_validates(where, parsed, block)


def _check_element(where: str, element: dict[str, Any]) -> None:
    _limit(where, "action_id", element.get("action_id"), ID_LIMIT)
    if element.get("type") == "button":
        _limit(where, "button text", _text(element.get("text")), BUTTON_TEXT_LIMIT)
        _limit(where, "button value", element.get("value"), BUTTON_VALUE_LIMIT)


def _slack_sdk_validates(where: str, parsed: Block, block: dict[str, Any]) -> None:
    # Block.validate_json checks only the block itself, not the buttons and inputs inside it.
    nested: list[Any] = []
    if isinstance(parsed, ActionsBlock | ContextBlock):
        nested = list(parsed.elements or [])
    elif isinstance(parsed, SectionBlock):
        nested = [parsed.accessory, parsed.text, *(parsed.fields or [])]
    elif isinstance(parsed, InputBlock):
        nested = [parsed.element, parsed.label]
    try:
        parsed.validate_json()
        for item in nested:
            if isinstance(item, JsonObject):
                item.validate_json()
        round_trip = parsed.to_dict()
    except SlackObjectFormationError as exc:
        raise BlockError(f"{where}: {exc}") from exc
    if round_trip != block:
        # slack_sdk drops what it does not know; Slack would refuse or ignore it just the same.
        lost = sorted(set(block) ^ set(round_trip)) or ["a nested value"]
        raise BlockError(f"{where}: slack_sdk does not read it back the same ({', '.join(lost)})")


def _text(obj: Any) -> str | None:
    return obj.get("text") if isinstance(obj, dict) else None


def _limit(where: str, what: str, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        raise BlockError(f"{where}: {what} is {len(value)} characters, over the limit of {limit}")


def validate_view(view: dict[str, Any]) -> None:
    """views.open / views.publish payloads: slack_sdk's View checks, plus everything validate_blocks checks."""
    blocks = view.get("blocks") or []
    if len(blocks) > MAX_VIEW_BLOCKS:
        raise BlockError(f"block {MAX_VIEW_BLOCKS}: {len(blocks)} blocks, over the limit of {MAX_VIEW_BLOCKS} "
                         "per view")
    title = _text(view.get("title"))
    if title is not None and len(title) > VIEW_TITLE_LIMIT:
        raise BlockError(f"view title is {len(title)} characters, over the limit of {VIEW_TITLE_LIMIT}")
    if view.get("type") == "modal" and any(b.get("type") == "input" for b in blocks) and not view.get("submit"):
        raise BlockError("a modal with input blocks needs a submit button")
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError) as exc:
        raise BlockError(f"view: {exc}") from exc
    validate_blocks(blocks, limit=MAX_VIEW_BLOCKS)
