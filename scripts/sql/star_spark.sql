-- The customer-experience star as Spark SQL / Delta DDL (what lake.gold.star writes).
-- Tables live under {root}/gold/<table>; replace ${root} with the lake root URI.
-- Surrogate keys: xxhash64 of a namespace and the natural key (stable across rebuilds);
-- every "unknown" member has key -1. Plain Delta tables (protocol 1/2, no table features,
-- no column mapping) so every Delta reader reads them, as lake.delta_io writes them.

CREATE DATABASE IF NOT EXISTS gold;

CREATE TABLE IF NOT EXISTS gold.dim_customer (
  customer_key   BIGINT    NOT NULL COMMENT 'xxhash64(customer, e-mail, name, phone, state (each with isnull), their occurrence); -1 = unknown',
  customer_email STRING             COMMENT 'natural key: trimmed, lower-cased e-mail (null for unknown)',
  customer_name  STRING,
  phone          STRING,
  state          STRING,
  valid_from     TIMESTAMP NOT NULL COMMENT 'started_at of the first interaction of this version',
  valid_to       TIMESTAMP NOT NULL COMMENT 'next version valid_from; 9999-12-31 23:59:59 when current',
  is_current     BOOLEAN   NOT NULL,
  version        INT       NOT NULL
) USING DELTA LOCATION '${root}/gold/dim_customer'
TBLPROPERTIES ('delta.minReaderVersion' = '1', 'delta.minWriterVersion' = '2', 'delta.enableDeletionVectors' = 'false');

CREATE TABLE IF NOT EXISTS gold.dim_channel (
  channel_key BIGINT NOT NULL COMMENT 'the channel key configured in channels: (conf/lake.yml); -1 unknown',
  channel     STRING NOT NULL,
  priority    INT    NOT NULL COMMENT 'tie-break order of last_interaction (1 first; 99 unknown)'
) USING DELTA LOCATION '${root}/gold/dim_channel'
TBLPROPERTIES ('delta.minReaderVersion' = '1', 'delta.minWriterVersion' = '2', 'delta.enableDeletionVectors' = 'false');

CREATE TABLE IF NOT EXISTS gold.dim_agent (
  agent_key  BIGINT NOT NULL COMMENT 'xxhash64(agent, agent_nk); -1 = unknown',
  agent_nk   STRING          COMMENT 'natural key: trimmed, blanks collapsed, lower-cased name',
  agent_name STRING NOT NULL
) USING DELTA LOCATION '${root}/gold/dim_agent'
TBLPROPERTIES ('delta.minReaderVersion' = '1', 'delta.minWriterVersion' = '2', 'delta.enableDeletionVectors' = 'false');

CREATE TABLE IF NOT EXISTS gold.dim_date (
  date_key     INT    NOT NULL COMMENT 'yyyymmdd; -1 = unknown',
  date         DATE,
  year         INT,
  quarter      INT,
  month        INT,
  month_name   STRING,
  day          INT,
  iso_weekday  INT    COMMENT '1 = Monday .. 7 = Sunday',
  weekday_name STRING,
  iso_week     INT,
  is_weekend   BOOLEAN
) USING DELTA LOCATION '${root}/gold/dim_date'
TBLPROPERTIES ('delta.minReaderVersion' = '1', 'delta.minWriterVersion' = '2', 'delta.enableDeletionVectors' = 'false');

CREATE TABLE IF NOT EXISTS gold.fact_interaction (
  interaction_id     STRING    NOT NULL COMMENT 'grain: one row per interaction (silver key)',
  customer_key       BIGINT    NOT NULL COMMENT 'customer version valid at started_at',
  channel_key        BIGINT    NOT NULL,
  agent_key          BIGINT    NOT NULL,
  date_key           INT       NOT NULL COMMENT 'date of started_at in the source time zone',
  started_at         TIMESTAMP,
  ended_at           TIMESTAMP,
  wait_seconds       BIGINT,
  handle_seconds     BIGINT,
  total_seconds      BIGINT,
  answered           BOOLEAN,
  classification     STRING,
  sub_classification STRING,
  feedback_score     INT,
  feedback_comment   STRING,
  source_table       STRING
) USING DELTA LOCATION '${root}/gold/fact_interaction'
TBLPROPERTIES ('delta.minReaderVersion' = '1', 'delta.minWriterVersion' = '2', 'delta.enableDeletionVectors' = 'false');

-- Delta has no enforced foreign keys; the unknown rows (-1) make every fact key resolvable.
