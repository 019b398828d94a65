"""Real PostgreSQL and MariaDB servers for the JDBC tests (see scripts/db/)."""
