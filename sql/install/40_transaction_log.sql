-- ---------------------------------------------------------------------------
-- Distributed transactions: the durable log (DESIGN section 5).
--
-- One row per distributed transaction.  The coordinator's decision is the
-- state column: a participant is committed only after its transaction's
-- row says 'committing' durably; everything else is presumed aborted.
-- ---------------------------------------------------------------------------
CREATE TABLE unified.transaction_log (
    tx_id           text PRIMARY KEY,
    participants    text[] NOT NULL,
    state           text NOT NULL DEFAULT 'pending',
    began_by        name NOT NULL DEFAULT CURRENT_USER,
    database        name NOT NULL DEFAULT pg_catalog.current_database(),
    began_at        timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    decided_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    error           text,
    CONSTRAINT transaction_log_state_check
        CHECK (state IN ('pending', 'committing', 'committed', 'aborting', 'aborted')),
    CONSTRAINT transaction_log_tx_id_check
        CHECK (tx_id ~ '^[A-Za-z0-9_.-]{1,128}$'),
    CONSTRAINT transaction_log_participants_check
        CHECK (pg_catalog.cardinality(participants) BETWEEN 1 AND 64)
);

CREATE INDEX transaction_log_state_idx ON unified.transaction_log (state, updated_at);

COMMENT ON TABLE unified.transaction_log IS
    'Durable log of distributed (two-phase) transactions coordinated by unified_pg';

SELECT pg_catalog.pg_extension_config_dump('unified.transaction_log', '');
