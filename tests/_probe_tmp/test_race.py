import time
import pytest
from tests.test_store_migrations import open_at_once

@pytest.mark.parametrize("n", [2, 3, 4, 8])
def test_rate(tmp_path, n):
    fails = 0; t0 = time.time()
    for a in range(150):
        opened, errors = open_at_once(f"sqlite:///{tmp_path}/{a}/k.db", n)
        for s in opened: s.close()
        fails += bool(errors)
    print(n, "fails", fails, "/150", round(time.time()-t0, 1))
