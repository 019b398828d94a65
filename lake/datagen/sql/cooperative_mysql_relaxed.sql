-- The cooperative's operational schema: MySQL / MariaDB, RELAXED variant (test/demo data only).
--
-- Same tables, columns and types as cooperative_mysql.sql (read its header for the
-- decisions), with primary keys only: no foreign keys, CHECKs or NOT NULLs. The data
-- generator loads dirty rows on purpose through it (orphan movimentos, a cartao whose
-- id_associado differs from its conta's, malformed card numbers) so the tests can prove that
-- silver quarantines them. Never use it for a real source.

CREATE TABLE associado (
    id          INT          NOT NULL PRIMARY KEY,
    nome        VARCHAR(100) NULL,
    sobrenome   VARCHAR(100) NULL,
    idade       INT          NULL,
    email       VARCHAR(255) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE conta (
    id            INT         NOT NULL PRIMARY KEY,
    tipo          ENUM('corrente', 'poupanca', 'salario', 'investimento') NULL,
    data_criacao  DATETIME(6) NULL,
    id_associado  INT         NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE cartao (
    id            INT          NOT NULL PRIMARY KEY,
    num_cartao    VARCHAR(19)  NULL,
    nom_impresso  VARCHAR(100) NULL,
    data_criacao  DATETIME(6)  NULL,
    id_conta      INT          NULL,
    id_associado  INT          NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE movimento (
    id              INT           NOT NULL PRIMARY KEY,
    vlr_transacao   DECIMAL(10,2) NULL,
    des_transacao   VARCHAR(255)  NULL,
    data_movimento  DATETIME(6)   NULL,
    id_cartao       INT           NULL,
    KEY movimento_data_movimento_ix (data_movimento)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
