"""ARM + Entra ID simulator for the real Azure SDK clients (see sim.py)."""

from tests.kit.azuresim.sim import AzureSim

__all__ = ["AzureSim"]
