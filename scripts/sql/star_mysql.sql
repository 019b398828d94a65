-- The customer-experience star on MySQL 8 / MariaDB 10.6+ as a serving warehouse
-- (loaded from the gold Delta tables, e.g. by a JDBC overwrite of each table).
-- Timestamps are stored as DATETIME in the source time zone (America/Sao_Paulo), as the
-- answers print them; keys are the same BIGINT surrogate keys as in Delta.

CREATE DATABASE IF NOT EXISTS gold CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE gold;

CREATE TABLE IF NOT EXISTS dim_customer (
  customer_key   BIGINT       NOT NULL PRIMARY KEY,
  customer_email VARCHAR(320) NULL,
  customer_name  VARCHAR(200) NULL,
  phone          VARCHAR(32)  NULL,
  state          VARCHAR(64)  NULL,
  valid_from     DATETIME     NOT NULL,
  valid_to       DATETIME     NOT NULL DEFAULT '9999-12-31 23:59:59',
  is_current     BOOLEAN      NOT NULL,
  version        INT          NOT NULL,
  UNIQUE KEY uq_customer_version (customer_email, valid_from),
  KEY ix_customer_current (customer_email, is_current)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS dim_channel (
  channel_key BIGINT      NOT NULL PRIMARY KEY,
  channel     VARCHAR(16) NOT NULL UNIQUE,
  priority    INT         NOT NULL
) ENGINE = InnoDB;

-- The members are the channels configured in conf/lake.yml (channels:), as lake.gold.star
-- writes them; these are the committed configuration's, plus the unknown member.
INSERT IGNORE INTO dim_channel (channel_key, channel, priority) VALUES
  (-1, 'unknown', 99), (1, 'phone', 1), (2, 'chat', 2), (3, 'whatsapp', 3), (4, 'email', 4);

CREATE TABLE IF NOT EXISTS dim_agent (
  agent_key  BIGINT       NOT NULL PRIMARY KEY,
  agent_nk   VARCHAR(200) NULL UNIQUE,
  agent_name VARCHAR(200) NOT NULL
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS dim_date (
  date_key     INT         NOT NULL PRIMARY KEY,
  `date`       DATE        NULL,
  `year`       SMALLINT    NULL,
  `quarter`    TINYINT     NULL,
  `month`      TINYINT     NULL,
  month_name   VARCHAR(16) NULL,
  `day`        TINYINT     NULL,
  iso_weekday  TINYINT     NULL,
  weekday_name VARCHAR(16) NULL,
  iso_week     TINYINT     NULL,
  is_weekend   BOOLEAN     NULL
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS fact_interaction (
  interaction_id     VARCHAR(128) NOT NULL PRIMARY KEY,
  customer_key       BIGINT       NOT NULL,
  channel_key        BIGINT       NOT NULL,
  agent_key          BIGINT       NOT NULL,
  date_key           INT          NOT NULL,
  started_at         DATETIME     NULL,
  ended_at           DATETIME     NULL,
  wait_seconds       BIGINT       NULL,
  handle_seconds     BIGINT       NULL,
  total_seconds      BIGINT       NULL,
  answered           BOOLEAN      NULL,
  classification     VARCHAR(255) NULL,
  sub_classification VARCHAR(255) NULL,
  feedback_score     INT          NULL,
  feedback_comment   TEXT         NULL,
  source_table       VARCHAR(32)  NULL,
  CONSTRAINT fk_fact_customer FOREIGN KEY (customer_key) REFERENCES dim_customer (customer_key),
  CONSTRAINT fk_fact_channel  FOREIGN KEY (channel_key)  REFERENCES dim_channel (channel_key),
  CONSTRAINT fk_fact_agent    FOREIGN KEY (agent_key)    REFERENCES dim_agent (agent_key),
  CONSTRAINT fk_fact_date     FOREIGN KEY (date_key)     REFERENCES dim_date (date_key),
  -- the three answers: per customer by time, per customer and channel
  KEY ix_fact_customer_started (customer_key, started_at),
  KEY ix_fact_started (started_at),
  KEY ix_fact_channel (channel_key, customer_key)
) ENGINE = InnoDB;
