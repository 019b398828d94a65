-- The cooperative's (SiCooperative) operational schema: MySQL 8 / MariaDB 10.5+, strict variant.
--
-- Table and column names are the diagram's (/work/shared/seeds/NOTES.md). The diagram's holes
-- are closed as in cooperative_postgres.sql:
--
-- 1. cartao.data_criacao is added (the flat file needs data_criacao_cartao).
-- 2. num_cartao is varchar(19) with CHECK (13 to 19 digits, REGEXP): a PAN does not fit an
--    int and must keep its leading zeros.
-- 3. conta has UNIQUE (id, id_associado) and cartao has the composite foreign key
--    (id_conta, id_associado) -> conta (id, id_associado): a card's member must be its
--    account's member. InnoDB needs that unique index on the referenced columns anyway.
-- 4. tipo is ENUM('corrente', 'poupanca', 'salario', 'investimento'): MySQL has no named
--    types, so the enumeration is declared on the column (in strict sql_mode an unknown
--    value is an error, not a silent '').
-- 5. vlr_transacao is DECIMAL(10,2): exact money.
--
-- Also: timestamps are DATETIME(6), not TIMESTAMP: DATETIME stores the wall-clock value as
-- given (TIMESTAMP converts through the session time zone and ends in 2038) and (6) keeps
-- microseconds like PostgreSQL's timestamp. InnoDB, utf8mb4. CHECK constraints are enforced
-- by MySQL 8.0.16+ and MariaDB 10.2+.
--
-- The loader (lake.datagen.dbload) turns foreign_key_checks off while it bulk-loads, for
-- speed; with strict=True it then verifies the foreign keys itself before committing,
-- because InnoDB does not re-check rows when the checks are turned back on.
--
-- The relaxed variant (cooperative_mysql_relaxed.sql): same tables, columns and types,
-- primary keys only, for dirty test data. load_cooperative(strict=...) picks the variant.

CREATE TABLE associado (
    id          INT          NOT NULL PRIMARY KEY,
    nome        VARCHAR(100) NOT NULL,
    sobrenome   VARCHAR(100) NOT NULL,
    idade       INT          NULL,
    email       VARCHAR(255) NULL,
    CONSTRAINT associado_idade_ck CHECK (idade BETWEEN 0 AND 150)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE conta (
    id            INT         NOT NULL PRIMARY KEY,
    tipo          ENUM('corrente', 'poupanca', 'salario', 'investimento') NOT NULL,
    data_criacao  DATETIME(6) NOT NULL,
    id_associado  INT         NOT NULL,
    CONSTRAINT conta_id_associado_uk UNIQUE (id, id_associado),
    KEY conta_id_associado_ix (id_associado),
    CONSTRAINT conta_associado_fk FOREIGN KEY (id_associado) REFERENCES associado (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE cartao (
    id            INT          NOT NULL PRIMARY KEY,
    num_cartao    VARCHAR(19)  NOT NULL,
    nom_impresso  VARCHAR(100) NOT NULL,
    data_criacao  DATETIME(6)  NOT NULL,
    id_conta      INT          NOT NULL,
    id_associado  INT          NOT NULL,
    CONSTRAINT cartao_num_cartao_digits CHECK (num_cartao REGEXP '^[0-9]{13,19}$'),
    KEY cartao_id_conta_ix (id_conta, id_associado),
    KEY cartao_id_associado_ix (id_associado),
    CONSTRAINT cartao_associado_fk FOREIGN KEY (id_associado) REFERENCES associado (id),
    CONSTRAINT cartao_conta_same_member_fk FOREIGN KEY (id_conta, id_associado)
        REFERENCES conta (id, id_associado)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE movimento (
    id              INT           NOT NULL PRIMARY KEY,
    vlr_transacao   DECIMAL(10,2) NOT NULL,
    des_transacao   VARCHAR(255)  NULL,
    data_movimento  DATETIME(6)   NOT NULL,
    id_cartao       INT           NOT NULL,
    KEY movimento_id_cartao_ix (id_cartao),
    KEY movimento_data_movimento_ix (data_movimento),
    CONSTRAINT movimento_cartao_fk FOREIGN KEY (id_cartao) REFERENCES cartao (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
