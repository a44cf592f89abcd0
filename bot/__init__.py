"""keda-auth: diagnose and fix KEDA's Azure Workload Identity authentication."""

__version__ = "0.1.0"
