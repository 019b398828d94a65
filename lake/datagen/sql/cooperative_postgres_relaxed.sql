-- The cooperative's operational schema: PostgreSQL, RELAXED variant (test/demo data only).
--
-- Same tables, columns and types as cooperative_postgres.sql (read its header for the
-- decisions), but with primary keys only: no foreign keys, CHECKs or NOT NULLs. The data
-- generator loads dirty rows on purpose through it (orphan movimentos, a cartao whose
-- id_associado differs from its conta's, malformed card numbers) so the tests can prove that
-- silver quarantines them. Never use it for a real source.

CREATE TYPE tipo_conta AS ENUM ('corrente', 'poupanca', 'salario', 'investimento');

CREATE TABLE associado (
    id          integer      PRIMARY KEY,
    nome        varchar(100),
    sobrenome   varchar(100),
    idade       integer,
    email       varchar(255)
);

CREATE TABLE conta (
    id            integer    PRIMARY KEY,
    tipo          tipo_conta,
    data_criacao  timestamp,
    id_associado  integer
);

CREATE TABLE cartao (
    id            integer      PRIMARY KEY,
    num_cartao    varchar(19),
    nom_impresso  varchar(100),
    data_criacao  timestamp,
    id_conta      integer,
    id_associado  integer
);

CREATE TABLE movimento (
    id              integer       PRIMARY KEY,
    vlr_transacao   numeric(10,2),
    des_transacao   varchar(255),
    data_movimento  timestamp,
    id_cartao       integer
);

CREATE INDEX movimento_data_movimento_ix ON movimento (data_movimento);
