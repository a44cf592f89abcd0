import dataclasses
from tests.test_audit_chain import *  # noqa

def test_probe(tmp_path):
    with migrated_store(f"sqlite:///{tmp_path}/x.db") as store:
        r = dataclasses.replace(canary_report(), source=SECRETS, cluster="c")
        record_check(store, r, f"cli:x {SECRETS}", {"via": "cli"}, scope=SECRETS)
        print(leaks(store))
