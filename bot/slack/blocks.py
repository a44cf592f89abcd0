"""Block Kit payloads for the Slack app, as plain JSON-ready dicts, each validated before it is returned.

The builders live in blocks_core (escaping, limits, validation), blocks_check (check results),
blocks_proposal (proposals, steps, verification, modals) and blocks_views (App Home, audit, status, help).
"""

from __future__ import annotations

from bot.slack.blocks_check import check_progress, check_result
from bot.slack.blocks_core import (
    CUT,
    BlockError,
    Blocks,
    code,
    esc,
    escape,
    fit,
    mention,
    message,
    validate_blocks,
    validate_view,
)
from bot.slack.blocks_proposal import approve_modal, proposal, reject_modal, step_result, verification
from bot.slack.blocks_views import audit, home, notice, status, usage

__all__ = [
    "CUT",
    "BlockError",
    "Blocks",
    "approve_modal",
    "audit",
    "check_progress",
    "check_result",
    "code",
    "esc",
    "escape",
    "fit",
    "home",
    "mention",
    "message",
    "notice",
    "proposal",
    "reject_modal",
    "status",
    "step_result",
    "usage",
    "validate_blocks",
    "validate_view",
    "verification",
]
