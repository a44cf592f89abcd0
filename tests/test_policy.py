"""The approval policy: the YAML a team writes, the verdicts it gives, and the errors a typo produces."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.approval.policy import (
    DENY_ALL,
    Policy,
    PolicyError,
    TierRule,
    Verdict,
    default_policy_path,
    load_policy,
    parse_duration,
    parse_policy,
    tier_name,
)
from bot.errors import InputError
from remediations.catalogue import Risk

EXAMPLE = """\
kill_switch: false
allow:
  channels: [C0123ABCD]
  clusters: [aks-prod-weu, "aks-dev-*"]
  namespaces: [keda, "orders-*"]
  cli: true
tiers:
  restart:
    approvers: [U0123ABCD, "cli:alice"]
    groups: [S0456EFGH]
    expiry: 2h
  patch:
    approvers: [U0123ABCD, W0999ZZZZ]
    required: 2
    requester_may_approve: true
    expiry: 90s
  azure_rbac:
    groups: [S0456EFGH]
    expiry: 3600
"""

SRE = frozenset({"U0SRE0001", "U0SRE0002"})


def _sre_groups(group: str) -> frozenset[str]:
    return SRE if group == "S0456EFGH" else frozenset()


def _write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def example(tmp_path: Path) -> Policy:
    return load_policy(_write(tmp_path, EXAMPLE))


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environment with no policy anywhere: HOME and XDG point at empty directories."""
    monkeypatch.delenv("KEDA_AUTH_POLICY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path


def test_the_full_example_parses_into_the_documented_policy(example: Policy, tmp_path: Path) -> None:
    assert example.source == str(tmp_path / "policy.yaml")
    assert example.channels == ("C0123ABCD",)
    assert example.clusters == ("aks-prod-weu", "aks-dev-*")
    assert example.namespaces == ("keda", "orders-*")
    assert example.allow_cli and not example.kill_switch
    assert set(example.tiers) == {Risk.RESTART, Risk.PATCH, Risk.AZURE_RBAC}
    assert example.tier(Risk.RESTART) == TierRule(approvers=frozenset({"U0123ABCD", "cli:alice"}),
                                                  groups=frozenset({"S0456EFGH"}), expiry=timedelta(hours=2))
    assert example.tier(Risk.PATCH) == TierRule(approvers=frozenset({"U0123ABCD", "W0999ZZZZ"}), required=2,
                                                requester_may_approve=True, expiry=timedelta(seconds=90))
    assert example.expiry(Risk.AZURE_RBAC) == timedelta(hours=1)
    assert example.tier(Risk.MANUAL) is None
    assert example.expiry(Risk.MANUAL) == timedelta(minutes=30)


def test_a_loaded_policy_cannot_be_widened_afterwards(example: Policy) -> None:
    with pytest.raises(TypeError):
        example.tiers[Risk.MANUAL] = TierRule(approvers=frozenset({"U0123ABCD"}))  # type: ignore[index]
    assert Policy(tiers={Risk.PATCH: TierRule()}).tiers == {Risk.PATCH: TierRule()}


def test_listed_approvers_may_approve_and_others_are_told_who_can(example: Policy) -> None:
    slack = example.may_approve("U0123ABCD", "U0REQUEST", Risk.RESTART)
    assert slack and "listed approver" in slack.reason and "restart" in slack.reason
    assert example.may_approve("cli:alice", "U0REQUEST", Risk.RESTART)
    assert "need 2 distinct approvals" in example.may_approve("W0999ZZZZ", "U0REQUEST", Risk.PATCH).reason

    refused = example.may_approve("cli:bob", "U0REQUEST", Risk.RESTART, _sre_groups)
    assert not refused
    assert refused.reason == ("cli:bob is not an approver for restart plans (approvers: U0123ABCD, cli:alice, "
                              "groups: S0456EFGH)")


def test_self_approval_is_refused_unless_the_tier_allows_it(example: Policy) -> None:
    own = example.may_approve("U0123ABCD", "U0123ABCD", Risk.RESTART)
    assert not own
    assert own.reason == "you requested this fix; a different approver is required"
    assert example.may_approve("U0123ABCD", "U0123ABCD", Risk.PATCH)  # requester_may_approve: true


def test_group_members_may_approve_when_groups_can_be_resolved(example: Policy) -> None:
    member = example.may_approve("U0SRE0001", "U0REQUEST", Risk.AZURE_RBAC, _sre_groups)
    assert member and "member of group S0456EFGH" in member.reason
    outsider = example.may_approve("U0OUTSIDE", "U0REQUEST", Risk.AZURE_RBAC, _sre_groups)
    assert not outsider and "U0OUTSIDE is not an approver for azure-rbac plans" in outsider.reason


def test_a_group_only_approver_is_refused_when_groups_cannot_be_resolved(example: Policy) -> None:
    verdict = example.may_approve("U0SRE0001", "U0REQUEST", Risk.AZURE_RBAC)
    assert not verdict
    assert "cannot be resolved" in verdict.reason and "S0456EFGH" in verdict.reason


def test_tiers_that_are_absent_empty_or_manual_let_no_one_approve(tmp_path: Path, example: Policy) -> None:
    only_patch = parse_policy("tiers: {patch: {approvers: [U0123ABCD]}, restart: {}}", "team.yaml")
    absent = only_patch.may_approve("U0123ABCD", "U0REQUEST", Risk.AZURE_RBAC)
    assert not absent
    assert absent.reason == "no one may approve azure-rbac plans under team.yaml: add tiers.azure-rbac"
    empty = only_patch.may_approve("U0123ABCD", "U0REQUEST", Risk.RESTART, _sre_groups)
    assert not empty and "no one may approve restart plans" in empty.reason and "no approvers" in empty.reason
    manual = example.may_approve("U0123ABCD", "U0REQUEST", Risk.MANUAL)
    assert not manual and "carried out by a person" in manual.reason


def test_rejecting_is_authorised_like_approving_but_requesters_may_withdraw(example: Policy) -> None:
    withdraw = example.may_reject("U0REQUEST", "U0REQUEST", Risk.AZURE_RBAC)
    assert withdraw and "withdraw" in withdraw.reason
    assert example.may_reject("U0SRE0002", "U0REQUEST", Risk.AZURE_RBAC, _sre_groups)
    stranger = example.may_reject("U0STRANGE", "U0REQUEST", Risk.PATCH)
    assert not stranger and "not an approver for patch plans" in stranger.reason
    assert "no one may reject" in DENY_ALL.may_reject("U0123ABCD", "U0REQUEST", Risk.PATCH).reason


def test_the_kill_switch_stops_applying_but_not_approving(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, EXAMPLE.replace("kill_switch: false", "kill_switch: true")))
    refused = policy.may_apply()
    assert not refused
    assert refused.reason.startswith(f"the kill switch is on ({tmp_path / 'policy.yaml'}); no fix is applied")
    assert policy.may_approve("U0123ABCD", "U0REQUEST", Risk.RESTART)
    assert parse_policy(EXAMPLE, "p.yaml").may_apply()


def test_channels_and_the_command_line(example: Policy) -> None:
    assert example.channel_allowed("C0123ABCD")
    other = example.channel_allowed("C0OTHER01")
    assert not other and "C0OTHER01 is not in allow.channels (C0123ABCD)" in other.reason
    assert example.cli_allowed()
    no_cli = parse_policy("allow: {cli: false}", "team.yaml").cli_allowed()
    assert not no_cli and "allow.cli" in no_cli.reason and "Slack" in no_cli.reason


def test_empty_allowlists_deny_and_say_where_to_set_them() -> None:
    channel = DENY_ALL.channel_allowed("C0123ABCD")
    assert not channel and "allow.channels is empty in built-in deny-all policy" in channel.reason
    clusters = DENY_ALL.scope_allowed("aks-prod-weu", ["keda"])
    assert not clusters and "allow.clusters is empty" in clusters.reason
    no_namespaces = parse_policy("allow: {clusters: [aks-prod-weu]}", "team.yaml")
    namespaces = no_namespaces.scope_allowed("aks-prod-weu", ["keda"])
    assert not namespaces and "allow.namespaces is empty in team.yaml" in namespaces.reason
    # An Azure-only plan touches no namespace, so only its cluster is checked.
    assert no_namespaces.scope_allowed("aks-prod-weu", [])


def test_cluster_globs(example: Policy) -> None:
    assert example.scope_allowed("aks-prod-weu", ["keda"])
    assert example.scope_allowed("aks-dev-42", ["keda"])
    outside = example.scope_allowed("aks-prod-neu", ["keda"])
    assert not outside
    assert "cluster aks-prod-neu does not match allow.clusters (aks-dev-*, aks-prod-weu)" in outside.reason
    unknown = example.scope_allowed(None, ["keda"])
    assert not unknown and "names no cluster" in unknown.reason


def test_every_namespace_must_match(example: Policy) -> None:
    both = example.scope_allowed("aks-prod-weu", ["keda", "orders-eu", "keda"])
    assert both and "namespaces keda, orders-eu" in both.reason
    one_out = example.scope_allowed("aks-prod-weu", ["keda", "payments"])
    assert not one_out
    assert one_out.reason.startswith("namespace payments is outside allow.namespaces (keda, orders-*)")
    assert "kube-system, payments are outside" in example.scope_allowed("aks-prod-weu", ["payments", "kube-system"]
                                                                          ).reason


@pytest.mark.parametrize(("text", "key_path", "words"), [
    ("kill_swich: true", "kill_swich", "did you mean kill_switch"),
    ("allow: {channel: [C0123ABCD]}", "allow.channel", "did you mean channels"),
    ("tiers: {patch: {aprovers: [U0123ABCD]}}", "tiers.patch.aprovers", "unknown key"),
    ("tiers: {pach: {approvers: [U0123ABCD]}}", "tiers.pach", "did you mean patch"),
    ("tiers: {manual: {approvers: [U0123ABCD]}}", "tiers.manual", "never applied"),
    ("tiers: {azure-rbac: {}, azure_rbac: {}}", "tiers.azure_rbac", "given twice"),
    ("tiers: {patch: {expiry: 30 minutes}}", "tiers.patch.expiry", "must be a duration"),
    ("tiers: {patch: {expiry: 0}}", "tiers.patch.expiry", "longer than zero"),
    ("tiers: {patch: {expiry: 8d}}", "tiers.patch.expiry", "at most 7 days"),
    ("tiers: {patch: {required: 0}}", "tiers.patch.required", "must be an integer ≥ 1, got 0"),
    ("tiers: {patch: {required: true}}", "tiers.patch.required", "integer"),
    ("tiers: {patch: {approvers: [U0123ABCD, u0123abcd]}}", "tiers.patch.approvers[1]", "not a Slack user id"),
    ("tiers: {patch: {approvers: U0123ABCD}}", "tiers.patch.approvers", "must be a list"),
    ("tiers: {patch: {approvers: ['cli:bob smith']}}", "tiers.patch.approvers[0]", "command-line user"),
    ("tiers: {patch: {groups: [U0123ABCD]}}", "tiers.patch.groups[0]", "Slack group"),
    ("tiers: {patch: {requester_may_approve: 'no'}}", "tiers.patch.requester_may_approve", "true or false"),
    ("tiers: {patch: [U0123ABCD]}", "tiers.patch", "must be a mapping"),
    ("allow: {channels: [general]}", "allow.channels[0]", "channel id"),
    ("allow: {cli: 'yes'}", "allow.cli", "true or false"),
    ("allow: {clusters: ['']}", "allow.clusters[0]", "non-empty"),
    ("- kill_switch", "the top level", "must be a mapping"),
])
def test_mistakes_name_the_file_and_key_path(tmp_path: Path, text: str, key_path: str, words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}: {key_path}: "), str(caught.value)
    assert words in str(caught.value)
    assert isinstance(caught.value, InputError)


def test_the_documented_message_for_required_zero() -> None:
    with pytest.raises(PolicyError, match=r"^policy\.yaml: tiers\.patch\.required: must be an integer ≥ 1, got 0$"):
        parse_policy("tiers:\n  patch:\n    required: 0\n", "policy.yaml")


def test_a_key_given_twice_or_broken_yaml_is_refused(tmp_path: Path) -> None:
    twice = _write(tmp_path, "tiers:\n  patch: {}\n  patch: {approvers: [U0123ABCD]}\n")
    with pytest.raises(PolicyError, match="'patch' is given twice") as caught:
        load_policy(twice)
    assert str(caught.value).startswith(str(twice)) and "line 3" in str(caught.value)
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(_write(tmp_path, "tiers: {patch: [", "broken.yaml"))


@pytest.mark.parametrize("text", ["", "\n# nothing here yet\n", "{}", "allow:\ntiers:\n"])
def test_an_empty_policy_denies_everything(tmp_path: Path, text: str) -> None:
    policy = load_policy(_write(tmp_path, text))
    assert dict(policy.tiers) == {} and policy.channels == policy.clusters == policy.namespaces == ()
    assert policy == Policy(tiers={}, source=str(tmp_path / "policy.yaml"))
    assert not policy.may_approve("U0123ABCD", "U0REQUEST", Risk.RESTART)
    assert not policy.scope_allowed("aks-prod-weu", ["keda"])


def test_an_explicit_path_wins_and_must_exist(no_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = _write(no_config, "allow: {channels: [C0EXPLICIT]}", "explicit.yaml")
    monkeypatch.setenv("KEDA_AUTH_POLICY", str(_write(no_config, "allow: {channels: [C0FROMENV]}", "env.yaml")))
    assert load_policy(explicit).channels == ("C0EXPLICIT",)
    assert load_policy(str(explicit)).source == str(explicit)
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(no_config / "missing.yaml")


def test_the_environment_variable_beats_the_default_path(no_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(no_config / "xdg" / "keda-auth", "allow: {channels: [C0DEFAULT]}")
    monkeypatch.setenv("KEDA_AUTH_POLICY", str(_write(no_config, "allow: {channels: [C0FROMENV]}", "env.yaml")))
    assert load_policy().channels == ("C0FROMENV",)
    monkeypatch.setenv("KEDA_AUTH_POLICY", str(no_config / "gone.yaml"))
    with pytest.raises(PolicyError, match=r"not found \(named by \$KEDA_AUTH_POLICY\)"):
        load_policy()


def test_the_default_path_follows_xdg_then_home(no_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_policy_path() == no_config / "xdg" / "keda-auth" / "policy.yaml"
    default = _write(no_config / "xdg" / "keda-auth", "allow: {channels: [C0DEFAULT]}")
    assert load_policy().source == str(default)
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_policy_path() == no_config / "home" / ".config" / "keda-auth" / "policy.yaml"


def test_no_policy_anywhere_is_the_deny_all_policy(no_config: Path) -> None:
    policy = load_policy()
    assert policy is DENY_ALL
    refused = policy.may_approve("U0123ABCD", "U0REQUEST", Risk.PATCH)
    assert not refused and "built-in deny-all policy" in refused.reason


@pytest.mark.parametrize(("value", "expected"), [
    ("90s", timedelta(seconds=90)), ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)),
    ("1d", timedelta(days=1)), (45, timedelta(seconds=45)), ("600", timedelta(minutes=10)),
])
def test_durations(value: object, expected: timedelta) -> None:
    assert parse_duration(value, "p.yaml: x") == expected


@pytest.mark.parametrize("value", ["", "1.5h", "-5m", "2w", 1.5, True, None, [30]])
def test_bad_durations(value: object) -> None:
    with pytest.raises(PolicyError, match=r"^p\.yaml: x: "):
        parse_duration(value, "p.yaml: x")


def test_tier_names_and_verdict_truthiness() -> None:
    assert [tier_name(r) for r in Risk] == ["manual", "restart", "patch", "azure-rbac"]
    assert bool(Verdict(True, "ok")) and not Verdict(False, "no")
