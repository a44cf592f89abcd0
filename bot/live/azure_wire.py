"""SDK models back to ARM wire JSON (`id`, `name`, `type`, `properties` with the REST API's camelCase keys).

The bundle holds what the REST API returns, so `collect` then `check --bundle` reads exactly what a live
`check` read. Two model families are installed: msrest models (azure-mgmt-msi, -authorization), which
re-serialise with their REST keys, and the newer typespec models (azure-mgmt-containerservice), which
are mappings over the wire JSON they were read from and keep even fields this SDK version does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def to_wire(model: Any) -> dict[str, Any]:
    if isinstance(model, Mapping):
        wire = model.as_dict() if hasattr(model, "as_dict") else dict(model)
        return dict(wire)
    # keep_readonly: id, name, type, clientId, principalId, createdOn... are read-only in the swagger.
    return dict(model.serialize(keep_readonly=True))
