"""The immutable, indexed view of cluster and Azure state that every check reads."""

from bot.snapshot.model import (
    AksCluster,
    ArmResource,
    FederatedCredential,
    Identity,
    InputProblem,
    K8sObject,
    PodLog,
    RoleAssignment,
    RoleDefinition,
    Snapshot,
    SourceRef,
)

__all__ = [
    "AksCluster",
    "ArmResource",
    "FederatedCredential",
    "Identity",
    "InputProblem",
    "K8sObject",
    "PodLog",
    "RoleAssignment",
    "RoleDefinition",
    "Snapshot",
    "SourceRef",
]
