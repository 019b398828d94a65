-- The cooperative's operational schema: SQLite 3, RELAXED variant (test/demo data only).
--
-- Same tables, columns and declared types as cooperative_sqlite.sql (read its header for the
-- decisions), with primary keys only: no foreign keys, CHECKs or NOT NULLs. The data
-- generator loads dirty rows on purpose through it (orphan movimentos, a cartao whose
-- id_associado differs from its conta's, malformed card numbers) so the tests can prove that
-- silver quarantines them. Never use it for a real source.

CREATE TABLE associado (
    id          INTEGER      PRIMARY KEY,
    nome        VARCHAR(100),
    sobrenome   VARCHAR(100),
    idade       INTEGER,
    email       VARCHAR(255)
);

CREATE TABLE conta (
    id            INTEGER   PRIMARY KEY,
    tipo          TEXT,
    data_criacao  TIMESTAMP,
    id_associado  INTEGER
);

CREATE TABLE cartao (
    id            INTEGER      PRIMARY KEY,
    num_cartao    VARCHAR(19),
    nom_impresso  VARCHAR(100),
    data_criacao  TIMESTAMP,
    id_conta      INTEGER,
    id_associado  INTEGER
);

CREATE TABLE movimento (
    id              INTEGER       PRIMARY KEY,
    vlr_transacao   DECIMAL(10,2),
    des_transacao   VARCHAR(255),
    data_movimento  TIMESTAMP,
    id_cartao       INTEGER
);

CREATE INDEX movimento_data_movimento_ix ON movimento (data_movimento);
