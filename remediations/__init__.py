"""The fix catalogue: every remediation id a finding can point at.

Automated remediations turn into ordered, reversible steps (Kubernetes patches, ARM requests, restarts);
manual ones render a procedure and are never applied by the bot.
"""

from remediations.catalogue import CATALOGUE, Remediation, get

__all__ = ["CATALOGUE", "Remediation", "get"]
