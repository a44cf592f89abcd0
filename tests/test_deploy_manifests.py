"""The Kubernetes manifests in deploy/, held to what the code really calls.

Statically: every manifest parses, the kustomization lists them all, the pods meet what a platform team checks
(non-root, read-only, no escalation, probes, replicas with a PDB, Workload Identity), and no rule reads Secrets,
uses wildcards or writes without naming its objects. Against the API-server simulator: every manifest passes a
server-side dry-run create (official 1.36 schemas, strict field validation); then, as the bot's own
ServiceAccount bound by these manifests only, the live check reads everything the admin's does (no collection
gap, the same findings), and every automated fix applies and verifies, or (the optional TriggerAuthentication /
ScaledObject fixes) is refused at the dry-run naming the missing rule until optional/workload-writer.yaml is
bound. Every request the bot makes must be allowed by the manifests themselves, not by a cluster's default
bindings, and every read they grant must be used: a fix or check that needs more fails here until the
manifests say so, and a grant nothing uses fails here until it is removed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml
from kubernetes import client

from bot import whoami
from bot.approval.policy import parse_policy
from bot.diagnosis.engine import Report, diagnose
from bot.diagnosis.findings import FixInput, Severity
from bot.execute.kube_api import rbac_rule
from bot.execute.records import Status
from bot.execute.service import executor_for
from bot.live.options import LiveOptions
from bot.live.session import collect_live
from bot.plan.plan import Plan
from bot.plan.planner import make_plan
from remediations.fixes import kube as kube_fixes
from remediations.model import KubeEdit, KubeRef, Restart
from remediations.registry import registered
from tests.kit import deploy
from tests.kit.deploy import Grants, Obj
from tests.kit.kubesim import KubeSim, authz
from tests.kit.scenario import Scenario, scenario
from tests.kit.scenario_breakers import BREAKERS, VARIANTS
from tests.kit.seed import container_env
from tests.test_fix_e2e import FIXABLE

OPERATOR_KINDS = frozenset({"Deployment", "ServiceAccount"})  # what the base's writer Role may patch, by name
SECURITY_KEYS = ("runAsNonRoot", "runAsUser", "allowPrivilegeEscalation", "readOnlyRootFilesystem")
SELF_REVIEW = {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews"], "verbs": ["create"]}
FORBIDDEN_VERBS = frozenset({"*", "watch", "create", "update", "delete", "deletecollection", "escalate", "bind",
                             "impersonate", "approve", "sign"})


# -- the files
def test_the_kustomization_lists_every_base_manifest_and_moves_no_namespace() -> None:
    kustomization = deploy.kustomization()
    assert kustomization["kind"] == "Kustomization"
    present = sorted(p.name for p in deploy.DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == present
    assert len(set(kustomization["resources"])) == len(kustomization["resources"])
    # kustomize's `namespace:` would move the Roles of KEDA's namespace into keda-auth (it rewrites every
    # namespaced object, Roles and RoleBindings included), so each file names its namespace instead.
    assert "namespace" not in kustomization
    objects = deploy.base() + deploy.optional()
    for obj in objects:
        assert set(obj) >= {"apiVersion", "kind", "metadata"}, obj
    namespaced = [o for o in objects if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding")]
    assert {o["metadata"].get("namespace") for o in namespaced} == {deploy.BOT_NAMESPACE, deploy.KEDA_NAMESPACE}
    in_keda = {(o["kind"], o["metadata"]["name"]) for o in namespaced
               if o["metadata"]["namespace"] == deploy.KEDA_NAMESPACE}
    assert in_keda == {(kind, name) for kind in ("Role", "RoleBinding")
                       for name in ("keda-auth-operator-reader", "keda-auth-operator-writer")}
    assert not [o for o in deploy.base() if o["metadata"]["name"] == "keda-auth-workload-writer"]
    names = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names))


def test_every_manifest_passes_a_server_side_dry_run_create_against_the_official_schemas() -> None:
    objects = deploy.base() + deploy.optional()
    with KubeSim() as sim:
        api = sim.api_client()
        try:
            namespace = deploy.one(objects, "Namespace", deploy.BOT_NAMESPACE)
            deploy.create(api, [namespace], dry_run="All", field_validation="Strict")
            # Namespaced objects need their namespaces: the bot's own (from the manifest) and KEDA's.
            deploy.create(api, [namespace, {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": deploy.KEDA_NAMESPACE}}])
            for obj in objects:
                if obj["kind"] == "Namespace":
                    continue
                try:
                    deploy.create(api, [obj], dry_run="All", field_validation="Strict")
                except Exception as exc:  # FailToCreateError carries the API server's Status
                    pytest.fail(f"{obj['kind']} {obj['metadata']['name']} refused: {exc}")
            # dryRun=All stored nothing
            assert client.RbacAuthorizationV1Api(api).list_cluster_role(
                label_selector="app.kubernetes.io/part-of=keda-auth").items == []
            assert client.AppsV1Api(api).list_namespaced_deployment(deploy.BOT_NAMESPACE).items == []
            refused = _strictly_refused(api)
            assert "unknown field" in refused and "spec.template.spec.containers[0].nonsense" in refused
        finally:
            api.close()
        assert sim.spec_violations == []


def _strictly_refused(api: Any) -> str:
    """The same server-side dry-run refuses a field the schema lacks: the check above has teeth. (Sent raw, past
    the client's own model validation, which refuses it before the server could.)"""
    broken = deploy.one(deploy.base(), "Deployment", "keda-auth")
    broken["spec"]["template"]["spec"]["containers"][0]["nonsense"] = True
    request = api.param_serialize(method="POST", resource_path="/apis/apps/v1/namespaces/keda-auth/deployments",
                                  query_params=[("dryRun", "All"), ("fieldValidation", "Strict")],
                                  header_params={"Content-Type": "application/json", "Accept": "application/json"},
                                  body=broken, auth_settings=["BearerToken"])
    response = api.call_api(*request)
    body = response.read()
    assert response.status == 400, body
    return str(json.loads(body)["message"])


def test_the_aks_addon_component_moves_the_roles_of_kedas_namespace_to_kube_system(tmp_path: Path) -> None:
    component = yaml.safe_load((deploy.AKS_ADDON / "kustomization.yaml").read_text(encoding="utf-8"))
    assert component["kind"] == "Component"
    (patch,) = component["patches"]
    ops = jsonpatch.JsonPatch(yaml.safe_load(patch["patch"]))
    target = patch["target"]
    moved = [ops.apply(o) if _targets(target, o) else o for o in deploy.base()]
    assert moved == deploy.relocated(deploy.base(), "kube-system")
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its kustomize) is not installed: the component was checked by its patch only")
    overlay = tmp_path / "keda-auth-aks"
    overlay.mkdir()
    base = Path(os.path.relpath(deploy.DEPLOY, overlay))  # kustomize refuses absolute paths
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": [str(base)],
        "components": [str(base / "components" / "aks-addon")]}), encoding="utf-8")
    built = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=60,
                           check=False)
    assert built.returncode == 0, built.stderr
    assert _by_id(yaml.safe_load_all(built.stdout)) == _by_id(moved)
    plain = subprocess.run([kubectl, "kustomize", str(deploy.DEPLOY)], capture_output=True, text=True, timeout=60,
                           check=False)
    assert plain.returncode == 0, plain.stderr
    assert _by_id(yaml.safe_load_all(plain.stdout)) == _by_id(deploy.base()), "kustomize changed the base"


def _targets(target: dict[str, Any], obj: Obj) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    return all(value == {"group": group, "kind": obj["kind"], "name": obj["metadata"]["name"],
                         "namespace": obj["metadata"].get("namespace")}[key] for key, value in target.items())


def _by_id(objects: Any) -> dict[tuple[str, str, str], Obj]:
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects if o}


# -- what a platform team checks in the pods
def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [(o["kind"], o["spec"]["template"]["spec"]) for o in deploy.of_kind(deploy.base(), "Deployment", "Job")]


def test_every_pod_runs_non_root_read_only_unprivileged_and_bounded() -> None:
    assert {kind for kind, _ in _pod_specs()} == {"Deployment", "Job"}
    for kind, spec in _pod_specs():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001, kind
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, kind
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), kind
        assert all("hostPath" not in v for v in spec.get("volumes") or []), kind
        for container in spec["containers"] + spec.get("initContainers", []):
            security = container["securityContext"]
            assert {k: security[k] for k in SECURITY_KEYS} == {
                "runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True}, (kind, container["name"])
            assert security["capabilities"] == {"drop": ["ALL"]}, (kind, container["name"])
            assert security.get("privileged", False) is False
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}
            assert container["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
            assert container["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}
            assert container["image"] == "ghcr.io/keda-auth/keda-auth:0.1.0"
            # the only writable path: an emptyDir at /tmp
            writable = [m for m in container.get("volumeMounts") or [] if not m.get("readOnly")]
            assert [m["mountPath"] for m in writable] == ["/tmp"], (kind, writable)
            (tmp,) = [v for v in spec["volumes"] if v["name"] == writable[0]["name"]]
            assert "emptyDir" in tmp
            # the store is PostgreSQL (the Secret's KEDA_AUTH_DB): no SQLite state directory
            assert "XDG_STATE_HOME" not in {e["name"] for e in container.get("env") or []}


def test_the_server_is_replicated_probed_spread_and_protected_from_disruption() -> None:
    objects = deploy.base()
    deployment = deploy.one(objects, "Deployment", "keda-auth")
    spec, pod = deployment["spec"], deployment["spec"]["template"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["serve", "--port", "3000"]
    assert container["ports"] == [{"name": "http", "containerPort": 3000, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/healthz" and startup["periodSeconds"] * startup["failureThreshold"] >= 60
    # an apply may wait 300 s for the operator's rollout and then verify before SIGTERM's grace runs out
    assert pod["spec"]["terminationGracePeriodSeconds"] == 420
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    spread = pod["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} >= {"kubernetes.io/hostname"}
    assert all(c["labelSelector"]["matchLabels"] == selector for c in spread)
    anti = pod["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    pdb = deploy.one(objects, "PodDisruptionBudget", "keda-auth")
    assert pdb["spec"]["minAvailable"] == 1 and pdb["spec"]["selector"]["matchLabels"] == selector
    assert pdb["spec"]["minAvailable"] < spec["replicas"], "a PDB as large as the replicas blocks every drain"
    service = deploy.one(objects, "Service", "keda-auth")
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    job = deploy.one(objects, "Job", "keda-auth-migrate")
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["db", "upgrade"] and migrate["image"] == container["image"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_bot_uses_workload_identity_its_secret_and_a_deny_all_policy() -> None:
    objects = deploy.base()
    sa = deploy.one(objects, "ServiceAccount", deploy.BOT_SERVICE_ACCOUNT)
    assert sa["metadata"]["namespace"] == deploy.BOT_NAMESPACE
    assert sa["metadata"]["annotations"] == {"azure.workload.identity/client-id": "<CLIENT_ID>"}
    assert "<CLIENT_ID>" in (deploy.DEPLOY / "README.md").read_text(encoding="utf-8")
    deployment = deploy.one(objects, "Deployment", "keda-auth")
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert pod["spec"]["serviceAccountName"] == deploy.BOT_SERVICE_ACCOUNT
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert "envFrom" not in container
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "KEDA_AUTH_DB"):
        assert env[key]["valueFrom"] == {"secretKeyRef": {"name": "keda-auth", "key": key}}
    assert env["KEDA_AUTH_POLICY"]["value"] == "/etc/keda-auth/policy.yaml"
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "policy"]
    assert mount["mountPath"] == "/etc/keda-auth" and mount["readOnly"] is True
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == "policy"]
    assert volume["configMap"]["name"] == "keda-auth-policy"
    assert volume["configMap"]["items"] == [{"key": "policy.yaml", "path": "policy.yaml"}]
    # no Secret in the manifests: it is created by hand (deploy/README.md)
    assert deploy.of_kind(objects + deploy.optional(), "Secret") == []
    assert "kubectl -n keda-auth create secret generic keda-auth" in (deploy.DEPLOY / "README.md").read_text(
        encoding="utf-8")
    policy_map = deploy.one(objects, "ConfigMap", "keda-auth-policy")
    policy = parse_policy(policy_map["data"]["policy.yaml"], "configmap-policy.yaml")
    assert policy.channels == policy.clusters == policy.namespaces == ()
    assert not policy.allow_cli and not policy.kill_switch
    assert all(not (rule.approvers or rule.groups) for rule in policy.tiers.values())
    # the migration Job needs the database only: no Kubernetes token, no Azure identity
    job = deploy.one(objects, "Job", "keda-auth-migrate")["spec"]["template"]
    assert job["spec"]["automountServiceAccountToken"] is False
    assert "azure.workload.identity/use" not in job["metadata"]["labels"]
    assert [e["name"] for e in job["spec"]["containers"][0]["env"]] == ["KEDA_AUTH_DB"]


# -- RBAC, statically
def test_no_rule_reads_secrets_uses_wildcards_or_writes_without_naming_its_objects() -> None:
    objects = deploy.base() + deploy.optional()
    found = list(deploy.rules(objects))
    assert found
    for role, rule in found:
        where = f"{role['kind']} {role['metadata']['name']}: {rule}"
        assert "secrets" not in rule.get("resources", []), where
        for key in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"):
            assert not any("*" in str(v) for v in rule.get(key, [])), where
        if rule == SELF_REVIEW:  # asking the API server about oneself stores nothing
            continue
        assert not set(rule["verbs"]) & FORBIDDEN_VERBS, where
        writes = set(rule["verbs"]) - {"get", "list"}
        if writes:
            assert writes == {"patch"}, where
            assert rule.get("resourceNames") or role["metadata"]["name"] == "keda-auth-workload-writer", where
    for binding in deploy.of_kind(objects, *deploy.BINDING_KINDS):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": deploy.BOT_SERVICE_ACCOUNT,
                                        "namespace": deploy.BOT_NAMESPACE}]
        role = binding["roleRef"]
        assert role["apiGroup"] == deploy.RBAC_GROUP and role["name"] == binding["metadata"]["name"]
        assert role["kind"] == ("ClusterRole" if binding["kind"] == "ClusterRoleBinding" else "Role")
    grants = Grants(deploy.base(), deploy.bot_user())
    for namespace in ("", deploy.KEDA_NAMESPACE, deploy.BOT_NAMESPACE, "orders"):
        for verb in ("get", "list", "watch"):
            assert not grants.resource(verb, "", "secrets", namespace), (verb, namespace)
    assert not grants.resource("list", "", "configmaps", "orders"), "only the webhook's ConfigMap, by name"
    assert not grants.resource("get", "", "pods/log", "orders"), "logs of KEDA's namespace only"
    assert not grants.resource("list", "", "pods", "orders")


@dataclass(frozen=True)
class Need:
    """One Kubernetes call a fix makes."""
    verb: str
    ref: KubeRef
    why: str

    def allowed(self, grants: Grants) -> bool:
        return grants.resource(self.verb, self.ref.group, self.ref.plural, self.ref.namespace, self.ref.name)


def _fix_params(kind: str, namespace: str) -> dict[str, str]:
    guid = str(uuid.uuid4())
    name = deploy.OPERATOR if namespace == deploy.KEDA_NAMESPACE else "orders"
    return {
        "kind": kind, "namespace": namespace, "name": name,
        "deployment": deploy.OPERATOR, "service_account": deploy.OPERATOR, "container": deploy.OPERATOR,
        "names": "AZURE_CLIENT_ID", "value": "3600", "client_id": guid, "tenant_id": guid, "index": "0",
        "path": "podIdentity", "ref_name": "sb-auth", "ref_kind": "TriggerAuthentication", "principal_id": guid,
        "role_guid": guid, "identity_id": f"/subscriptions/{guid}/resourceGroups/rg/providers/"
                                          "Microsoft.ManagedIdentity/userAssignedIdentities/id",
        "scope": f"/subscriptions/{guid}/resourceGroups/rg", "issuer": "https://issuer.example/",
        "subject": "system:serviceaccount:keda:keda-operator", "audience": "api://AzureADTokenExchange"}


def _needs() -> list[Need]:
    """Every Kubernetes call each registered remediation's steps make, for every kind it accepts: the executor
    GETs each target (drift, dry-run, apply, verify) and PATCHes it; a restart also lists the Deployment's pods
    and reads its ServiceAccount, to tell whether the pods are stale. The operator's objects are in KEDA's
    namespace; KEDA's custom resources in an application's ("orders")."""
    needs: dict[Need, None] = {}
    for remediation_id, entry in sorted(registered().items()):
        built = 0
        for kind in kube_fixes._KINDS:
            for namespace in (deploy.KEDA_NAMESPACE, "orders"):
                try:
                    steps = entry.build(FixInput.of(remediation_id, **_fix_params(kind, namespace)))
                except ValueError:  # a kind this remediation does not patch
                    continue
                built += 1
                for step in steps:
                    action = step.action
                    if not isinstance(action, KubeEdit | Restart) or \
                            (action.target.kind in OPERATOR_KINDS) != (namespace == deploy.KEDA_NAMESPACE):
                        continue
                    ref = action.target
                    found = [Need("get", ref, remediation_id), Need("patch", ref, remediation_id)]
                    if isinstance(action, Restart):
                        found += [Need("get", kube_fixes.kube_ref("ServiceAccount", ref.namespace, deploy.OPERATOR),
                                       remediation_id),
                                  Need("list", KubeRef("", "v1", "Pod", "pods", ref.namespace, ""), remediation_id)]
                    needs.update(dict.fromkeys(found))
        assert built, f"{remediation_id}: nothing built; does it need a parameter _fix_params lacks?"
    return list(needs)


def test_every_kubernetes_call_a_registered_remediation_makes_is_granted_and_nothing_more() -> None:
    base = Grants(deploy.base(), deploy.bot_user())
    with_optional = Grants(deploy.base() + deploy.optional(), deploy.bot_user())
    needs = _needs()
    assert {n.ref.kind for n in needs} >= OPERATOR_KINDS | {"TriggerAuthentication", "ScaledObject"}
    for need in needs:
        described = f"{need.why}: {need.verb} {need.ref.ref}"
        if need.verb != "patch" or need.ref.kind in OPERATOR_KINDS:
            assert need.allowed(base), f"{described} is not granted by the base manifests"
        else:
            assert need.allowed(with_optional), f"{described} is not granted by optional/workload-writer.yaml"
            assert not need.allowed(base), f"{described}: writes to application objects are optional"
    # and nothing more: every get/patch the manifests grant on a resource is one some fix makes
    needed = {(n.verb, n.ref.group, n.ref.plural) for n in needs if n.verb in ("get", "patch")}
    granted = {(a.verb, a.group, a.resource) for _, rule in deploy.rules(deploy.base() + deploy.optional())
               for a in deploy.atoms(rule) if a.verb in ("get", "patch") and a.resource and a.resource != "pods/log"}
    assert granted == needed
    # a patch of the operator names it: another Deployment in KEDA's namespace stays out of reach
    other = kube_fixes.kube_ref("Deployment", deploy.KEDA_NAMESPACE, "keda-operator-metrics-apiserver")
    assert not Need("patch", other, "").allowed(with_optional)
    assert not Need("patch", kube_fixes.kube_ref("Deployment", "orders", deploy.OPERATOR), "").allowed(with_optional)


# -- against the simulator, as the bot's ServiceAccount
@dataclass
class Bot:
    """keda-auth as its ServiceAccount, with exactly the manifests' RBAC (KEDA's namespace is the scenario's)."""
    sc: Scenario
    sim: KubeSim
    token: str
    options: LiveOptions
    objects: list[Obj]
    seen: int = 0  # requests of the simulator's log already inspected

    def grants(self) -> Grants:
        return Grants(self.objects, deploy.bot_user())

    def requests(self) -> list[authz.Attributes]:
        """The bot's requests since the last call, as the authorizer sees them."""
        log = list(self.sim.server.requests)
        assert len(log) < (self.sim.server.requests.maxlen or 0), "the request log overflowed"
        mine = [r for r in log[self.seen:] if r.headers.get("authorization") == f"Bearer {self.token}"]
        self.seen = len(log)
        return [self.grants().attributes(r.method, r.path, r.query) for r in mine]

    def denied(self) -> list[authz.Attributes]:
        """The bot's requests since the last call that the manifests alone do not allow."""
        grants = self.grants()
        return [r for r in self.requests() if not grants.allows(r)]

    def check(self, options: LiveOptions | None = None) -> tuple[Report, list[Any]]:
        """`keda-auth check` (as the bot, unless other options are given): the report and the collection gaps."""
        assembled, _ = collect_live(options or self.options, credential=self.sc.azure.credential, now=self.sc.now)
        return diagnose(assembled.snapshot()), assembled.gaps

    def bind(self, objects: list[Obj]) -> None:
        deploy.create(self.sc.kube.client, objects)
        self.objects += objects


def install_bot(sc: Scenario, tmp_path: Path) -> Bot:
    """Install the whole base (Namespace, ServiceAccount, Deployment, ..., RBAC), KEDA's namespace being the
    scenario's, and give the bot's ServiceAccount a token (`system:serviceaccount:keda-auth:keda-auth`, in the
    groups system:serviceaccounts, system:serviceaccounts:keda-auth and system:authenticated)."""
    sim = sc.kube.require_sim("mints a token for the bot's ServiceAccount")
    objects = deploy.relocated(deploy.base(), sc.namespace, sc.operator)
    deploy.create(sc.kube.client, objects)
    token = sim.add_user(deploy.BOT_USER)
    kubeconfig = str(sim.write_kubeconfig(tmp_path / "keda-auth.kubeconfig", user=deploy.BOT_USER))
    bot = Bot(sc, sim, token, dataclasses.replace(sc.live_options(), kubeconfig=kubeconfig), objects)
    bot.requests()  # the bot's requests are counted from here
    return bot


def _kube_gaps(gaps: list[Any]) -> list[Any]:
    return [g for g in gaps if g.source == "kubernetes"]


def test_the_bot_reads_what_the_admin_reads_with_exactly_the_manifests_permissions(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        bot = install_bot(sc, tmp_path)
        # the bot's own pods: the upstream Workload Identity webhook injected the identity its ServiceAccount names
        pods = client.CoreV1Api(sc.kube.client).list_namespaced_pod(
            deploy.BOT_NAMESPACE, label_selector="app.kubernetes.io/component=server").items
        assert len(pods) == 2
        for pod in pods:
            env = container_env(pod)
            assert env.get("AZURE_CLIENT_ID") == "<CLIENT_ID>" and env.get("AZURE_FEDERATED_TOKEN_FILE")
            assert pod.spec.service_account_name == deploy.BOT_SERVICE_ACCOUNT
        # findings from every source the check reads: operator logs, a ScaledObject, the ServiceAccount
        broken = ("egress-or-timeout-to-entra", "authref-unresolved", "wi-token-expiration-invalid")
        for name in broken:
            BREAKERS[name](sc)
        sc.settle()
        for namespace in (sc.namespace, None):  # `-n NAMESPACE`, and the whole cluster as `serve` checks it
            report, gaps = bot.check(dataclasses.replace(bot.options, namespace=namespace))
            assert _kube_gaps(gaps) == []
            admin, admin_gaps = bot.check(dataclasses.replace(sc.live_options(), namespace=namespace))
            assert gaps == admin_gaps
            assert report.findings == admin.findings
            assert {f.id for f in report.findings if f.severity >= Severity.WARNING} >= set(broken)
        answers = _whoami(bot)
        # whoami asks exactly what the code reads: on these manifests only the optional writes are missing.
        assert {what for what, allowed in answers.items() if not allowed} == {
            "list secrets (never needed)", "patch triggerauthentications (all namespaces)",
            "patch scaledobjects (all namespaces)"}
        requests = bot.requests()
        grants = bot.grants()
        assert [r for r in requests if not grants.allows(r)] == []
        # Every read the manifests grant is used by the check or whoami. (The gets of fix targets are used by the
        # fixes: the static test above derives them, and the test below runs them.)
        fix_gets = {("get", n.ref.group, n.ref.plural) for n in _needs()}
        unused = [str(a) for _, rule in deploy.rules(bot.objects) for a in deploy.atoms(rule)
                  if a.verb != "patch" and (a.verb, a.group, a.resource) not in fix_gets
                  and not any(a.covers(r) for r in requests)]
        assert unused == [], "granted, but nothing asks for it"


def _whoami(bot: Bot) -> dict[str, bool]:
    """`keda-auth whoami` / `/keda-auth whoami` as the bot: what it may read and patch."""
    api = bot.sim.api_client(user=deploy.BOT_USER)
    try:
        return {p.what: p.allowed for p in whoami.kubernetes(api, bot.sc.namespace)}
    finally:
        api.close()


def _targets_state(sc: Scenario, plan: Plan) -> dict[str, Any]:
    state = {}
    for step in plan.steps:
        if isinstance(step.action, KubeEdit | Restart):
            ref = step.action.target
            status, body, _ = sc.kube.raw("GET", ref.path)
            assert status == 200, body
            state[ref.ref] = body["metadata"]["resourceVersion"]
    return state


@pytest.mark.parametrize("name", FIXABLE)
def test_every_fix_runs_as_the_bots_serviceaccount_with_the_manifests_rbac(name: str, tmp_path: Path) -> None:
    finding_id, breaker = VARIANTS[name] if name in VARIANTS else (name, BREAKERS[name])
    with scenario(tmp_path) as sc:
        bot = install_bot(sc, tmp_path)
        breaker(sc)
        assembled, _ = collect_live(bot.options, credential=sc.azure.credential, now=sc.now)
        assert _kube_gaps(assembled.gaps) == []
        snapshot = assembled.snapshot()
        plan = make_plan(diagnose(snapshot), snapshot, only=[finding_id])
        assert plan.steps, f"no automated step for {finding_id}"
        targets = {s.action.target for s in plan.steps if isinstance(s.action, KubeEdit | Restart)}
        workload = {t for t in targets if t.kind not in OPERATOR_KINDS}
        if workload:
            # refused at the dry-run, naming the rule, until optional/workload-writer.yaml is bound
            before = _targets_state(sc, plan)
            with executor_for(plan, bot.options, credential=sc.azure.credential, rollout_timeout=60) as ex:
                dry = ex.dry_run(plan)
                refused = ex.apply(plan)
            assert {d.permission for d in dry if d.outcome == "refused"} == {rbac_rule("patch", t) for t in workload}
            assert refused.outcome == "refused"
            assert all(any(rbac_rule("patch", t) in p for p in refused.problems) for t in workload), refused.problems
            assert all(r.status is Status.PENDING for r in refused.steps)
            assert _targets_state(sc, plan) == before
            denied = bot.denied()
            assert denied, "the simulator allowed what the manifests do not"
            assert {(r.verb, r.group, r.resource, r.namespace, r.name) for r in denied} == {
                ("patch", t.group, t.plural, t.namespace, t.name) for t in workload}
            bot.bind(deploy.relocated(deploy.optional(), sc.namespace, sc.operator))
        with executor_for(plan, bot.options, credential=sc.azure.credential, rollout_timeout=60) as ex:
            dry = ex.dry_run(plan)
            assert [d for d in dry if d.outcome == "refused"] == []
            applied = ex.apply(plan)
        assert applied.outcome == "applied", applied.problems
        sc.settle()
        report, gaps = bot.check()
        assert _kube_gaps(gaps) == []
        assert {f.id for f in report.findings if f.severity >= Severity.WARNING} == set(), \
            "the fix did not leave a clean check"
        assert bot.denied() == []


def test_the_readme_documents_what_the_manifests_need() -> None:
    readme = (deploy.DEPLOY / "README.md").read_text(encoding="utf-8")
    for needed in ("kubectl apply -k deploy/", "kubectl apply -f deploy/optional/workload-writer.yaml",
                   "components/aks-addon", "kube-system", "keda-auth db upgrade", "SLACK_BOT_TOKEN",
                   "SLACK_SIGNING_SECRET", "KEDA_AUTH_DB", "replicas", "<CLIENT_ID>"):
        assert needed in readme, needed
    for path in re.findall(r"`((?:optional|components)/[\w./-]+|[\w-]+\.yaml)`", readme):
        if not path.startswith(("slack-app-manifest", "kustomization")):
            assert (deploy.DEPLOY / path.rstrip("/")).exists(), path
