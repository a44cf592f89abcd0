"""`keda-auth setup`: what to grant the bot itself. `setup azure --print` prints `az` commands; it never runs them."""

from __future__ import annotations

import click

from bot.cli_common import KedaAuthGroup
from bot.errors import InputError
from bot.setup_azure import AzureSetup, render


@click.group("setup", cls=KedaAuthGroup)
def setup_group() -> None:
    """What to grant keda-auth's own identity (printed for review; never granted by keda-auth)."""


@setup_group.command("azure")
@click.option("--print", "print_", is_flag=True,
              help="Print the commands (required: keda-auth never grants roles by itself).")
@click.option("--principal-id", required=True, metavar="GUID",
              help="Object (principal) id of the bot's managed identity, not its client id: "
                   "az identity show -g GROUP -n NAME --query principalId -o tsv")
@click.option("--identity-rg", "identity_groups", multiple=True, metavar="GROUP",
              help="Resource group holding KEDA's managed identities: Reader (repeatable; a name with "
                   "--subscription, or the group's id).")
@click.option("--subscription", metavar="GUID", help="Subscription of the --identity-rg names.")
@click.option("--target", "targets", multiple=True, metavar="RESOURCE_ID",
              help="Service Bus or Event Hubs namespace, storage account, Key Vault, Log Analytics workspace or "
                   "Azure Monitor workspace a trigger reads: Reader, and Role Based Access Control Administrator "
                   "limited to the data roles the fixes grant there (repeatable).")
@click.option("--monitor-target", "monitor_targets", multiple=True, metavar="RESOURCE_ID",
              help="A resource whose metrics an azure-monitor trigger reads: Reader, and Role Based Access Control "
                   "Administrator limited to Monitoring Reader (repeatable).")
@click.option("--fic-identity", "fic_identities", multiple=True, metavar="RESOURCE_ID",
              help="User-assigned identity whose federated credentials the fixes write: Managed Identity "
                   "Contributor on that identity only (repeatable).")
@click.option("--aks", multiple=True, metavar="RESOURCE_ID", help="The AKS cluster: Reader (its OIDC issuer).")
@click.option("--subscription-reader", "subscription_readers", multiple=True, metavar="GUID",
              help="Also Reader on this subscription, for the live check's subscription-wide lists (broader; "
                   "optional).")
def azure_command(print_: bool, principal_id: str, identity_groups: tuple[str, ...], subscription: str | None,
                  targets: tuple[str, ...], monitor_targets: tuple[str, ...], fic_identities: tuple[str, ...],
                  aks: tuple[str, ...], subscription_readers: tuple[str, ...]) -> None:
    """Print the `az role assignment create` commands that give the bot least privilege in Azure."""
    if not print_:
        raise InputError("only printing is supported: add --print, review the commands and run them yourself "
                         "(keda-auth never grants roles by itself)")
    request = AzureSetup(principal_id=principal_id, identity_groups=identity_groups, subscription=subscription,
                         targets=targets, monitor_targets=monitor_targets, fic_identities=fic_identities, aks=aks,
                         subscription_readers=subscription_readers)
    click.echo(render(request), nl=False)
