"""Every check module, imported so that its checks register (one module per link of the chain)."""

from bot.diagnosis.checks import federation, identity, injection, network, oidc, rbac, servicebus, triggers, versions

__all__ = ["federation", "identity", "injection", "network", "oidc", "rbac", "servicebus", "triggers", "versions"]
