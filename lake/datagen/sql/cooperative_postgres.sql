-- The cooperative's (SiCooperative) operational schema: PostgreSQL, strict variant.
--
-- Table and column names are the diagram's (docs: /work/shared/seeds/NOTES.md). The holes the
-- diagram leaves are closed here, the same way in the three dialects:
--
-- 1. cartao.data_criacao timestamp NOT NULL is added: the flat file asks for
--    data_criacao_cartao and a card has an issue date in any real card system.
-- 2. num_cartao is varchar(19) with CHECK (13 to 19 ASCII digits): a PAN does not fit an int
--    (2^31 has 10 digits), and as a number it would lose leading zeros. It is an identifier,
--    not a quantity.
-- 3. A card reaches its member by two paths (cartao.id_associado, and cartao.id_conta ->
--    conta.id_associado). conta has UNIQUE (id, id_associado) so that the composite foreign
--    key cartao(id_conta, id_associado) -> conta(id, id_associado) forces both paths to name
--    the same member. The plain FK cartao.id_associado -> associado.id of the diagram is kept.
-- 4. tipo_conta is an enumerated type with the values 'corrente', 'poupanca', 'salario',
--    'investimento' (checking, savings, salary, investment account: the usual Brazilian
--    cooperative products), written without accents so they are ASCII-safe identifiers.
-- 5. vlr_transacao is numeric(10,2): exact money, never a float.
--
-- Also: ids are integer (the diagram's int); timestamps are timestamp WITHOUT time zone
-- (local wall-clock time of the cooperative, as the diagram's "timestamp"); every FK column
-- is indexed (Postgres does not do it by itself) and movimento.data_movimento is indexed for
-- incremental reads by watermark.
--
-- The relaxed variant (cooperative_postgres_relaxed.sql) has the same tables, columns and
-- types with primary keys only: the data generator uses it to write dirty data on purpose
-- (orphan movimentos, cards whose member differs from their account's) so the tests can
-- prove that silver quarantines them. lake.datagen.dbload.load_cooperative(strict=...) picks
-- the variant.

CREATE TYPE tipo_conta AS ENUM ('corrente', 'poupanca', 'salario', 'investimento');

CREATE TABLE associado (
    id          integer      PRIMARY KEY,
    nome        varchar(100) NOT NULL,
    sobrenome   varchar(100) NOT NULL,
    idade       integer      CHECK (idade BETWEEN 0 AND 150),
    email       varchar(255)
);

CREATE TABLE conta (
    id            integer    PRIMARY KEY,
    tipo          tipo_conta NOT NULL,
    data_criacao  timestamp  NOT NULL,
    id_associado  integer    NOT NULL REFERENCES associado (id),
    CONSTRAINT conta_id_associado_uk UNIQUE (id, id_associado)
);

CREATE TABLE cartao (
    id            integer      PRIMARY KEY,
    num_cartao    varchar(19)  NOT NULL CONSTRAINT cartao_num_cartao_digits
                                   CHECK (num_cartao ~ '^[0-9]{13,19}$'),
    nom_impresso  varchar(100) NOT NULL,
    data_criacao  timestamp    NOT NULL,
    id_conta      integer      NOT NULL,
    id_associado  integer      NOT NULL REFERENCES associado (id),
    CONSTRAINT cartao_conta_same_member_fk FOREIGN KEY (id_conta, id_associado)
        REFERENCES conta (id, id_associado)
);

CREATE TABLE movimento (
    id              integer       PRIMARY KEY,
    vlr_transacao   numeric(10,2) NOT NULL,
    des_transacao   varchar(255),
    data_movimento  timestamp     NOT NULL,
    id_cartao       integer       NOT NULL REFERENCES cartao (id)
);

CREATE INDEX conta_id_associado_ix ON conta (id_associado);
CREATE INDEX cartao_id_conta_ix ON cartao (id_conta, id_associado);
CREATE INDEX cartao_id_associado_ix ON cartao (id_associado);
CREATE INDEX movimento_id_cartao_ix ON movimento (id_cartao);
CREATE INDEX movimento_data_movimento_ix ON movimento (data_movimento);
