"""The database on disk: schema and connections (database.py), who may write it
(locking.py), the read snapshot a writer leaves for readers (snapshot.py), the stored
attribution's bookkeeping (attribution.py) and the Parquet lake (lake.py).

`from auditlog import store` gives the connection functions of database.py.
"""

from auditlog.store.database import (
    DEFAULT_DB,
    SCHEMA_VERSION,
    configure,
    connect,
    create_schema,
    default_db_path,
    first_line,
    table_ddl,
)

__all__ = ["DEFAULT_DB", "SCHEMA_VERSION", "configure", "connect", "create_schema",
           "default_db_path", "first_line", "table_ddl"]
