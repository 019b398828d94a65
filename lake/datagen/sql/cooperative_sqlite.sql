-- The cooperative's (SiCooperative) operational schema: SQLite 3, strict variant.
--
-- Table and column names are the diagram's (/work/shared/seeds/NOTES.md). The diagram's holes
-- are closed as in cooperative_postgres.sql:
--
-- 1. cartao.data_criacao is added (the flat file needs data_criacao_cartao).
-- 2. num_cartao is TEXT with CHECK: 13 to 19 characters, none of them a non-digit (GLOB):
--    a PAN does not fit an int and must keep its leading zeros.
-- 3. conta has UNIQUE (id, id_associado) and cartao has the composite foreign key
--    (id_conta, id_associado) -> conta (id, id_associado): a card's member must be its
--    account's member.
-- 4. tipo is TEXT with CHECK (tipo IN ('corrente', 'poupanca', 'salario', 'investimento')):
--    SQLite has no enum type.
-- 5. vlr_transacao is declared DECIMAL(10,2) so JDBC readers (sqlite-jdbc, Spark) type it as
--    decimal(10,2). SQLite has no decimal storage: the NUMERIC affinity stores it as an IEEE
--    double, which round-trips every decimal(10,2) value exactly (at most 10 significant
--    digits, a double keeps 15). The loader writes the decimal's text, never a Python float.
--
-- Also: timestamps are TIMESTAMP columns holding text 'YYYY-MM-DD HH:MM:SS.SSS' (the
-- loader's format: sqlite-jdbc parses exactly this pattern, so keep the milliseconds).
-- SQLite enforces foreign keys only on connections that run `PRAGMA foreign_keys = ON`
-- (the loader does in strict mode).
--
-- The relaxed variant (cooperative_sqlite_relaxed.sql): same tables, columns and declared
-- types, primary keys only, for dirty test data. load_cooperative(strict=...) picks it.

CREATE TABLE associado (
    id          INTEGER      PRIMARY KEY,
    nome        VARCHAR(100) NOT NULL,
    sobrenome   VARCHAR(100) NOT NULL,
    idade       INTEGER      CHECK (idade BETWEEN 0 AND 150),
    email       VARCHAR(255)
);

CREATE TABLE conta (
    id            INTEGER   PRIMARY KEY,
    tipo          TEXT      NOT NULL
                  CHECK (tipo IN ('corrente', 'poupanca', 'salario', 'investimento')),
    data_criacao  TIMESTAMP NOT NULL,
    id_associado  INTEGER   NOT NULL REFERENCES associado (id),
    CONSTRAINT conta_id_associado_uk UNIQUE (id, id_associado)
);

CREATE TABLE cartao (
    id            INTEGER      PRIMARY KEY,
    num_cartao    VARCHAR(19)  NOT NULL CONSTRAINT cartao_num_cartao_digits
                  CHECK (length(num_cartao) BETWEEN 13 AND 19 AND num_cartao NOT GLOB '*[^0-9]*'),
    nom_impresso  VARCHAR(100) NOT NULL,
    data_criacao  TIMESTAMP    NOT NULL,
    id_conta      INTEGER      NOT NULL,
    id_associado  INTEGER      NOT NULL REFERENCES associado (id),
    CONSTRAINT cartao_conta_same_member_fk FOREIGN KEY (id_conta, id_associado)
        REFERENCES conta (id, id_associado)
);

CREATE TABLE movimento (
    id              INTEGER       PRIMARY KEY,
    vlr_transacao   DECIMAL(10,2) NOT NULL,
    des_transacao   VARCHAR(255),
    data_movimento  TIMESTAMP     NOT NULL,
    id_cartao       INTEGER       NOT NULL REFERENCES cartao (id)
);

CREATE INDEX conta_id_associado_ix ON conta (id_associado);
CREATE INDEX cartao_id_conta_ix ON cartao (id_conta, id_associado);
CREATE INDEX cartao_id_associado_ix ON cartao (id_associado);
CREATE INDEX movimento_id_cartao_ix ON movimento (id_cartao);
CREATE INDEX movimento_data_movimento_ix ON movimento (data_movimento);
