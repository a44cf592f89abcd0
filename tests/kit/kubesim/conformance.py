"""Every JSON body the simulator sends is checked against the official definition of its kind.

A mismatch is recorded, not raised, so the client still sees the answer; the `kube` fixture fails the
test at teardown when anything was recorded. This is what keeps the simulator honest as it grows.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.kit.kubesim.registry import SWAGGER, gvk_definitions
from tests.kit.sim.openapi import KUBE_RESPONSE, Located, load_document, validate


class ResponseConformance:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self._lock = threading.Lock()

    def check(self, method: str, path: str, body: Any) -> None:
        if not isinstance(body, dict) or "kind" not in body:
            return
        group, _, version = str(body.get("apiVersion", "v1")).rpartition("/")
        name = gvk_definitions().get((group, version, body["kind"]))
        if name is None:
            return  # a custom resource: its CRD schema already validated it on the way in
        spec = load_document(SWAGGER)["definitions"][name]
        causes = validate(body, Located(spec, SWAGGER, name), KUBE_RESPONSE).causes
        if causes:
            with self._lock:
                self.violations += [f"{method} {path} → {name}: {c.text()}" for c in causes]
