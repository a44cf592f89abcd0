"""On-call review of the audit trail: query, render and export the hash-chained events and proposal stories."""
