"""One module per kind of fix; importing this package registers them all."""

from remediations.fixes import (  # noqa: F401
    federated_credential,
    operator_env,
    operator_label,
    operator_restart,
    role_assignment,
    scaled_object,
    service_account,
    trigger_auth,
)
