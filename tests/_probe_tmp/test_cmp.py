from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from bot.store.schema import Base
from bot.store.db import create_store_engine
from bot.store import migrate

def test_cmp(database_url):
    engine = create_store_engine(database_url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True}), Base.metadata)
    engine.dispose()
    for d in diff: print(d)
    print("---", database_url[:10])
