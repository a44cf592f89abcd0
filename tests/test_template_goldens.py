"""Golden files for every command and manual template, with ordinary and hostile values.

A template change shows up as a reviewed diff of what a person will copy into a shell, and hostile values
(quotes, substitutions, newlines, a leading dash) are proven to reach the command as the arguments the
template meant. Regenerate with KEDA_AUTH_UPDATE_GOLDENS=1, then review the diff before committing.
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.diagnosis.findings import Finding, Severity, Stage
from bot.templating import command, render, template_dir

GOLDEN_DIR = Path(__file__).parent / "golden" / "templates"
UPDATE_ENV = "KEDA_AUTH_UPDATE_GOLDENS"

# Every character class a shell or a CLI parser could act on: quoting, substitution, separators, globbing,
# line breaks and option syntax.
HOSTILE_PARTS = ("'", '"', "$(rm -rf /)", "`", " ", ";", "*", "\n")
# Outside quotes each of these separates commands, substitutes, redirects, globs, expands or comments.
SHELL_SPECIALS = frozenset("\n;&|<>()$`*?[]{}#~\\")


def hostile(tag: str) -> str:
    # The tag keeps each field's value distinct, so a value landing in the wrong argument is caught too.
    return f"-{tag} it's \"quoted\" $(rm -rf /) `id`; * {{{{ 7*7 }}}}\nsecond line"


@dataclass(frozen=True)
class JsonArg:
    """An argv slot holding JSON: compared after json.loads, since key order and spacing are the encoder's."""

    value: Any


@dataclass(frozen=True)
class Case:
    name: str  # the golden file's stem
    template: str  # relative to template_dir()
    values: Mapping[str, Any]
    argv: Sequence[str | JsonArg] | None = None  # the exact arguments a POSIX shell must see
    verbatim: Sequence[str] = field(default=())  # text a manual procedure must contain unchanged

    @property
    def golden(self) -> Path:
        return GOLDEN_DIR / f"{self.name}.txt"


def cmd(template: str) -> str:
    return f"commands/{template}.sh.j2"


# -- command templates: ordinary values as the checks, remediations and undo pass them, then hostile ones

JSON_PATCH = [{"op": "replace", "path": "/spec/podIdentity/identityId",
               "value": "11111111-2222-3333-4444-555555555555"}]
MERGE_PATCH = {"spec": {"template": {"metadata": {"labels": {"azure.workload.identity/use": "true"}}}}}
SCOPE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-apps/providers/"
         "Microsoft.ServiceBus/namespaces/sb-orders")
ASSIGNMENT = SCOPE + "/providers/Microsoft.Authorization/roleAssignments/9f3c2a1e-0000-4000-8000-000000000001"
ISSUER = "https://westeurope.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/1d2c3b4a/"
SUBJECT = "system:serviceaccount:keda:keda-operator"
AUDIENCE = "api://AzureADTokenExchange"
ROLE = "090c5cfd-751d-490a-894a-3ce6f1109419"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"

ORDINARY_COMMANDS = [
    Case("az-aks-update", cmd("az-aks-update"),
         {"resource_group": "rg-aks", "cluster": "aks-prod",
          "flags": ["--enable-oidc-issuer", "--enable-workload-identity"]}),
    Case("az-aks-update-no-flags", cmd("az-aks-update"),
         {"resource_group": "rg-aks", "cluster": "aks-prod", "flags": []}),
    Case("az-fic-create", cmd("az-fic-create"),
         {"fic_name": "keda-operator-aks-prod", "identity_name": "keda-id", "resource_group": "rg-identities",
          "issuer": ISSUER, "subject": SUBJECT, "audience": AUDIENCE}),
    Case("az-fic-delete", cmd("az-fic-delete"),
         {"fic_name": "keda-operator-aks-prod", "identity_name": "keda-id", "resource_group": "rg-identities"}),
    Case("az-fic-update", cmd("az-fic-update"),
         {"fic_name": "keda-operator-aks-prod", "identity_name": "keda-id", "resource_group": "rg-identities",
          "issuer": ISSUER, "subject": SUBJECT, "audiences": [AUDIENCE, "api://custom-audience"]}),
    Case("az-identity-show", cmd("az-identity-show"), {"client_id": CLIENT_ID}),
    Case("az-role-assignment-create", cmd("az-role-assignment-create"),
         {"principal_id": "66666666-7777-8888-9999-000000000000", "role_guid": ROLE, "scope": SCOPE}),
    Case("az-role-assignment-delete", cmd("az-role-assignment-delete"), {"assignment_id": ASSIGNMENT}),
    Case("kubectl-annotate", cmd("kubectl-annotate"),
         {"namespace": "keda", "kind": "serviceaccount", "name": "keda-operator",
          "key": "azure.workload.identity/client-id", "value": CLIENT_ID}),
    Case("kubectl-patch-json", cmd("kubectl-patch"),
         {"namespace": "apps", "kind": "triggerauthentications.keda.sh", "name": "orders-auth",
          "patch_type": "json", "patch": JSON_PATCH}),
    Case("kubectl-patch-merge", cmd("kubectl-patch"),
         {"namespace": "keda", "kind": "deployment", "name": "keda-operator", "patch_type": "merge",
          "patch": MERGE_PATCH}),
    # ClusterTriggerAuthentications have no namespace; the template then leaves out `-n`.
    Case("kubectl-patch-cluster-scoped", cmd("kubectl-patch"),
         {"namespace": None, "kind": "clustertriggerauthentications.keda.sh", "name": "shared-auth",
          "patch_type": "json", "patch": [{"op": "remove", "path": "/spec/podIdentity/identityId"}]}),
    Case("kubectl-rollout-restart", cmd("kubectl-rollout-restart"), {"namespace": "keda", "name": "keda-operator"}),
    Case("kubectl-set-env-set", cmd("kubectl-set-env"),
         {"namespace": "keda", "name": "keda-operator", "container": "keda-operator", "unset": [],
          "set": [{"name": "KEDA_HTTP_DEFAULT_TIMEOUT", "value": "10000"}]}),
    # The checks pass container="" when the pod template's container has no name; `-c` is then left out.
    Case("kubectl-set-env-unset", cmd("kubectl-set-env"),
         {"namespace": "keda", "name": "keda-operator", "container": "", "set": [],
          "unset": ["AZURE_CLIENT_ID", "AZURE_TENANT_ID"]}),
]

# JMESPath raw-string escaping: the value can neither close the literal nor smuggle in another filter.
def _jp(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


_H = {tag: hostile(tag) for tag in (
    "ns", "kind", "name", "key", "value", "container", "rg", "cluster", "flag", "fic", "identity", "issuer",
    "subject", "audience", "audience2", "client", "principal", "role", "scope", "assignment", "ptype",
    "env", "envvalue", "unset", "path", "patchkey", "patchvalue")}
HOSTILE_JSON_PATCH = [{"op": "replace", "path": "/metadata/annotations/" + _H["path"], "value": _H["patchvalue"]}]
HOSTILE_MERGE_PATCH = {"metadata": {"annotations": {_H["patchkey"]: _H["patchvalue"]}}}
JP_CLIENT = _jp(_H["client"])

HOSTILE_COMMANDS = [
    Case("az-aks-update-hostile", cmd("az-aks-update"),
         {"resource_group": _H["rg"], "cluster": _H["cluster"], "flags": [_H["flag"]]},
         argv=["az", "aks", "update", "--resource-group", _H["rg"], "--name", _H["cluster"], _H["flag"]]),
    Case("az-fic-create-hostile", cmd("az-fic-create"),
         {"fic_name": _H["fic"], "identity_name": _H["identity"], "resource_group": _H["rg"],
          "issuer": _H["issuer"], "subject": _H["subject"], "audience": _H["audience"]},
         argv=["az", "identity", "federated-credential", "create", "--name", _H["fic"],
               "--identity-name", _H["identity"], "--resource-group", _H["rg"], "--issuer", _H["issuer"],
               "--subject", _H["subject"], "--audiences", _H["audience"]]),
    Case("az-fic-delete-hostile", cmd("az-fic-delete"),
         {"fic_name": _H["fic"], "identity_name": _H["identity"], "resource_group": _H["rg"]},
         argv=["az", "identity", "federated-credential", "delete", "--name", _H["fic"],
               "--identity-name", _H["identity"], "--resource-group", _H["rg"], "--yes"]),
    Case("az-fic-update-hostile", cmd("az-fic-update"),
         {"fic_name": _H["fic"], "identity_name": _H["identity"], "resource_group": _H["rg"],
          "issuer": _H["issuer"], "subject": _H["subject"], "audiences": [_H["audience"], _H["audience2"]]},
         argv=["az", "identity", "federated-credential", "update", "--name", _H["fic"],
               "--identity-name", _H["identity"], "--resource-group", _H["rg"], "--issuer", _H["issuer"],
               "--subject", _H["subject"], "--audiences", _H["audience"], _H["audience2"]]),
    # The template composes a JMESPath filter around the value; the shell must see that filter as one word.
    Case("az-identity-show-hostile", cmd("az-identity-show"), {"client_id": _H["client"]},
         argv=["az", "identity", "list", "--query",
               f"[?clientId=='{JP_CLIENT}' || principalId=='{JP_CLIENT}']", "-o", "json"]),
    Case("az-role-assignment-create-hostile", cmd("az-role-assignment-create"),
         {"principal_id": _H["principal"], "role_guid": _H["role"], "scope": _H["scope"]},
         argv=["az", "role", "assignment", "create", "--assignee-object-id", _H["principal"],
               "--assignee-principal-type", "ServicePrincipal", "--role", _H["role"], "--scope", _H["scope"]]),
    Case("az-role-assignment-delete-hostile", cmd("az-role-assignment-delete"), {"assignment_id": _H["assignment"]},
         argv=["az", "role", "assignment", "delete", "--ids", _H["assignment"]]),
    Case("kubectl-annotate-hostile", cmd("kubectl-annotate"),
         {"namespace": _H["ns"], "kind": _H["kind"], "name": _H["name"], "key": _H["key"], "value": _H["value"]},
         argv=["kubectl", "-n", _H["ns"], "annotate", "--overwrite", "--", _H["kind"], _H["name"],
               f"{_H['key']}={_H['value']}"]),
    Case("kubectl-patch-json-hostile", cmd("kubectl-patch"),
         {"namespace": _H["ns"], "kind": _H["kind"], "name": _H["name"], "patch_type": _H["ptype"],
          "patch": HOSTILE_JSON_PATCH},
         argv=["kubectl", "-n", _H["ns"], "patch", "--type", _H["ptype"], "-p", JsonArg(HOSTILE_JSON_PATCH), "--",
               _H["kind"], _H["name"]]),
    Case("kubectl-patch-merge-hostile", cmd("kubectl-patch"),
         {"namespace": None, "kind": _H["kind"], "name": _H["name"], "patch_type": "merge",
          "patch": HOSTILE_MERGE_PATCH},
         argv=["kubectl", "patch", "--type", "merge", "-p", JsonArg(HOSTILE_MERGE_PATCH), "--", _H["kind"],
               _H["name"]]),
    Case("kubectl-rollout-restart-hostile", cmd("kubectl-rollout-restart"), {"namespace": _H["ns"], "name": _H["name"]},
         argv=["kubectl", "-n", _H["ns"], "rollout", "restart", "--", "deployment", _H["name"]]),
    Case("kubectl-set-env-hostile", cmd("kubectl-set-env"),
         {"namespace": _H["ns"], "name": _H["name"], "container": _H["container"],
          "set": [{"name": _H["env"], "value": _H["envvalue"]}], "unset": [_H["unset"]]},
         argv=["kubectl", "-n", _H["ns"], "set", "env", "-c", _H["container"], "--", "deployment", _H["name"],
               f"{_H['env']}={_H['envvalue']}", f"{_H['unset']}-"]),
]


# -- manual procedures: rendered as bot/plan/manual.py does, for a person to read (not a shell)

MANUAL_TEMPLATES = {  # template stem: (a finding it fixes, its catalogue title)
    "_procedure": ("tenant-mismatch", "Align the tenant of the identity and KEDA"),
    "_generic": ("sb-namespace-metadata", "Service Bus trigger lacks the namespace short name"),
    "manual-enable-oidc-issuer": ("oidc-issuer-not-enabled", "Enable the cluster's OIDC issuer"),
    "manual-enable-workload-identity": ("wi-webhook-absent", "Enable Workload Identity (webhook) on the cluster"),
    "manual-fix-trigger-metadata": ("sb-entity-metadata", "Correct the trigger metadata"),
    "manual-kube-system-webhook": ("wi-kube-system-excluded", "Let the webhook mutate kube-system, or move KEDA out"),
    "manual-migrate-pod-identity": ("provider-azure-removed", "Migrate from AAD Pod Identity to Workload Identity"),
    "manual-network-egress": ("egress-or-timeout-to-entra", "Allow egress to Entra ID"),
    "manual-publish-oidc": ("oidc-endpoint-unreachable", "Make the OIDC discovery document reachable by Entra"),
    "manual-recreated-identity": ("identity-recreated-drift", "Re-point everything at the recreated identity"),
    "manual-restore-webhook": ("wi-webhook-unavailable", "Restore the Workload Identity webhook"),
    "manual-single-keda-install": ("multiple-keda-installs", "Keep one KEDA installation"),
    "manual-sovereign-cloud": ("sovereign-cloud-authority-mismatch", "Align the trigger cloud and the authority host"),
    "manual-tenant": ("tenant-mismatch", "Align the tenant of the identity and KEDA"),
    "manual-upgrade-keda": ("crd-enum-mismatch-none", "Upgrade KEDA (and its CRDs)"),
    "manual-wait-propagation": ("fic-propagation-delay", "Wait for Entra/RBAC propagation, then re-check"),
}


def manual(stem: str) -> str:
    return f"manual/{stem}.md.j2"


def ordinary_finding(finding_id: str, title: str) -> Finding:
    return Finding(
        id=finding_id, severity=Severity.CRITICAL, title=title, stage=Stage.CLUSTER,
        detail="KEDA's token request fails with `AADSTS70021: No matching federated identity record found`.",
        objects=("Deployment/keda/keda-operator", "ServiceAccount/keda/keda-operator"),
        commands=("az aks update --resource-group rg-aks --name aks-prod --enable-oidc-issuer",
                  "kubectl -n keda rollout restart deployment keda-operator"),
        docs=("https://learn.microsoft.com/azure/aks/use-oidc-issuer",),
    )


HOSTILE_DETAIL = "detail {{ 7*7 }} {% if true %}block{% endif %} {# comment #} it's \"q\" $(rm -rf /) `id`; *\nline 2"
HOSTILE_FINDING = Finding(
    id="wi-sa-clientid-missing", severity=Severity.WARNING, title="{{ title }}", detail=HOSTILE_DETAIL,
    objects=("ServiceAccount/{{ ns }}/it's", "Deployment/-x/$(id)"),
    # A real rendered command whose quoted value spans lines, as a check would list it among the steps.
    commands=(command("kubectl-rollout-restart", namespace=hostile("ns"), name="{{ 7*7 }}"), "echo `id` ; rm -rf *"),
    docs=("https://example.test/{{ 7*7 }}?q='x'",),
)
HOSTILE_TITLE = "{{ finding.detail }} {{ 7*7 }} <b>it's</b>"


def manual_cases() -> list[Case]:
    cases = []
    for stem, (finding_id, title) in MANUAL_TEMPLATES.items():
        # aks=None is what manual.py passes unless the snapshot holds exactly one cluster.
        cases.append(Case(stem, manual(stem),
                          {"finding": ordinary_finding(finding_id, title), "title": title, "aks": None}))
        cases.append(Case(f"{stem}-hostile", manual(stem),
                          {"finding": HOSTILE_FINDING, "title": HOSTILE_TITLE, "aks": None},
                          verbatim=(HOSTILE_TITLE, HOSTILE_DETAIL, *HOSTILE_FINDING.commands,
                                    ", ".join(HOSTILE_FINDING.objects), *HOSTILE_FINDING.docs)))
    # The optional parts of the base procedure (objects, steps, docs) each have a branch to leave out.
    bare = Finding(id="fic-propagation-delay", severity=Severity.INFO, title="t", detail="Nothing to change yet.")
    for stem in ("_procedure", "_generic"):
        cases.append(Case(f"{stem}-bare", manual(stem),
                          {"finding": bare, "title": "Wait for Entra/RBAC propagation, then re-check", "aks": None}))
    return cases


CASES = ORDINARY_COMMANDS + HOSTILE_COMMANDS + manual_cases()
BY_NAME = {case.name: case for case in CASES}


def template_files(folder: str) -> set[str]:
    return {f"{folder}/{p.name}" for p in (template_dir() / folder).glob("*.j2")}


def test_case_names_are_unique() -> None:
    assert len(BY_NAME) == len(CASES)


def test_hostile_values_hold_every_dangerous_character() -> None:
    sample = hostile("x")
    assert sample.startswith("-")
    missing = [part for part in HOSTILE_PARTS if part not in sample]
    assert missing == []


def test_every_template_has_a_golden_case() -> None:
    covered = {case.template for case in CASES}
    templates = template_files("commands") | template_files("manual")
    assert templates, f"no templates found under {template_dir()}"
    assert templates - covered == set(), "templates without a golden case: add them to the table"
    assert covered - templates == set(), "golden cases for templates that do not exist"


def test_every_command_template_has_a_hostile_case() -> None:
    hostile_covered = {case.template for case in CASES if case.argv is not None}
    assert template_files("commands") - hostile_covered == set()


def test_every_golden_file_belongs_to_a_case() -> None:
    stale = {p.stem for p in GOLDEN_DIR.glob("*.txt")} - set(BY_NAME)
    assert stale == set(), f"golden files no case renders (delete them): {sorted(stale)}"


def rendered(case: Case) -> str:
    return render(case.template, **case.values)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_rendering_matches_its_golden_file(case: Case) -> None:
    # render() strips its output, so the one trailing newline is the file's own terminator, never the template's.
    actual = (rendered(case) + "\n").encode()
    path = case.golden
    expected = path.read_bytes() if path.is_file() else None
    if os.environ.get(UPDATE_ENV) == "1":
        if actual != expected:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual)
            pytest.fail(f"goldens updated, review them: {path}")
        return
    if expected is None:
        pytest.fail(f"no golden file {path}; create it with {UPDATE_ENV}=1 and review it")
    if actual != expected:
        diff = difflib.unified_diff(expected.decode().splitlines(keepends=True),
                                    actual.decode().splitlines(keepends=True),
                                    fromfile=str(path), tofile=f"rendered {case.template}")
        pytest.fail(f"{case.name} differs from its golden file ({UPDATE_ENV}=1 regenerates):\n" + "".join(diff),
                    pytrace=False)


def unquoted_specials(text: str) -> list[str]:
    """Characters a POSIX shell acts on that sit outside quotes; shlex.split would silently treat a stray
    newline or `;` as a word break, so this reads the text the way sh does."""
    found, quote, escaped = [], "", False
    for char in text:
        if escaped:
            escaped = False
        elif quote == "'":
            quote = "" if char == "'" else quote
        elif quote == '"':
            if char == "\\":
                escaped = True
            elif char == '"':
                quote = ""
            elif char in "$`":
                found.append(char)
        elif char in "'\"":
            quote = char
        elif char == "\\":
            escaped = True
        elif char in SHELL_SPECIALS:
            found.append(char)
    assert not quote, "unterminated quote"
    return found


@pytest.mark.parametrize("case", [c for c in CASES if c.template.startswith("commands/")], ids=lambda c: c.name)
def test_a_command_is_one_simple_command_with_every_special_character_quoted(case: Case) -> None:
    assert unquoted_specials(rendered(case)) == []


@pytest.mark.parametrize("case", HOSTILE_COMMANDS, ids=lambda c: c.name)
def test_hostile_values_reach_the_command_as_the_arguments_meant(case: Case) -> None:
    assert case.argv is not None
    argv = shlex.split(rendered(case))
    assert len(argv) == len(case.argv), argv
    for got, want in zip(argv, case.argv, strict=True):
        if isinstance(want, JsonArg):
            assert json.loads(got) == want.value
        else:
            assert got == want


@pytest.mark.parametrize("case", [c for c in CASES if c.verbatim], ids=lambda c: c.name)
def test_manual_procedures_print_finding_text_verbatim(case: Case) -> None:
    text = rendered(case)
    for piece in case.verbatim:
        assert piece in text
    # Values are data to Jinja: an expression inside one must never be evaluated.
    assert "49" not in text
