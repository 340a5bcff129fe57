-- ---------------------------------------------------------------------------
-- Distributed transactions (DESIGN section 5).
--
-- One row per distributed transaction.  The coordinator's decision is the
-- state column: a participant is committed only after its transaction's
-- row says 'committing' durably; everything else is presumed aborted.
--
--   pending --commit_distributed--> committing --all participants done--> committed
--   pending --abort / missing participant / timeout--> aborting --> aborted
--
-- Every transition is an UPDATE ... WHERE state = <expected> made while
-- holding the transaction's coordinator lock (see src/dtx.c), so the
-- coordinator and the resolver never both move one row.  participant_roles
-- binds each participant to the role whose members may vote for it, and
-- votes records, with the commit decision, the prepared xid of each vote:
-- only that prepared transaction is ever committed (src/dtx_protocol.c).  The table is
-- read and written only through the functions below, which run their SQL
-- as the bootstrap superuser after their own permission checks;
-- applications have no privileges on it.
-- ---------------------------------------------------------------------------
-- The states, as a domain rather than a CHECK on the table: a state the
-- resolver does not know would stop it, and a domain's check is parsed once
-- per session (the type cache), where a table's CHECK is parsed and planned
-- again by the executor of every statement that writes a row -- that was
-- most of what writing the log cost beyond the row itself (BENCHMARKS.md).
CREATE DOMAIN unified.transaction_state AS text
    CONSTRAINT transaction_state_check
    CHECK (VALUE IN ('pending', 'committing', 'committed', 'aborting', 'aborted'));

COMMENT ON DOMAIN unified.transaction_state IS
    'State of a distributed transaction in unified.transaction_log';

CREATE TABLE unified.transaction_log (
    tx_id           text PRIMARY KEY,
    participants    text[] NOT NULL,
    state           unified.transaction_state NOT NULL DEFAULT 'pending',
    began_by        name NOT NULL DEFAULT CURRENT_USER,
    database        name NOT NULL DEFAULT pg_catalog.current_database(),
    began_at        timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    decided_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_by     text,
    error           text,
    participant_roles regrole[],
    -- No CHECK constraints: everything about a row beyond its state (the
    -- tx id's grammar, 1 to 64 participants, one role and one vote per
    -- participant, finished_by) is guaranteed by the only code that writes
    -- the table (src/dtx.c, src/resolver.c), which validates its input
    -- before any SQL; as CHECKs, each would be parsed again by the
    -- executor of every statement that writes a row.
    votes           xid[]
);

CREATE INDEX transaction_log_state_idx ON unified.transaction_log (state, updated_at);
CREATE INDEX transaction_log_finished_idx ON unified.transaction_log (finished_at)
    WHERE state IN ('committed', 'aborted');

COMMENT ON TABLE unified.transaction_log IS
    'Durable log of distributed (two-phase) transactions coordinated by unified_pg';

REVOKE ALL ON TABLE unified.transaction_log FROM PUBLIC;
GRANT SELECT ON TABLE unified.transaction_log TO unified_admin;

SELECT pg_catalog.pg_extension_config_dump('unified.transaction_log', '');

-- ---- coordinator API (src/dtx.c) -------------------------------------------
--
-- These are C functions and procedures without SECURITY DEFINER: a
-- procedure that is SECURITY DEFINER or has a SET clause cannot commit,
-- and commit_distributed must commit between its phases.  The C code
-- checks the caller's rights itself and then runs its own SQL as the
-- bootstrap superuser with search_path pinned to pg_catalog, pg_temp.

CREATE FUNCTION unified.participant_gid(tx_id text, participant text)
RETURNS text
AS 'MODULE_PATHNAME', 'upg_participant_gid'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION unified.participant_gid(text, text) IS
    'The PREPARE TRANSACTION identifier of a participant: unified:<tx_id>:<participant>';

-- participant_roles, when given, binds each participant to a role (one per
-- participant); otherwise unified_pg.participant_roles does, and a
-- participant it does not name is bound to the caller.
CREATE FUNCTION unified.begin_distributed(tx_id text, participants text[],
                                          participant_roles regrole[] DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'upg_begin_distributed'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION unified.begin_distributed(text, text[], regrole[]) IS
    'Start a distributed transaction: log it as pending with its participants and their roles; returns the tx id';

-- The outcome of one transaction, for the role that began it, the roles
-- that may vote for its participants and unified_admin; for anyone else
-- no row, exactly as for an unknown tx id.
CREATE FUNCTION unified.transaction_status(tx_id text)
RETURNS TABLE (tx_id text, state text, decided_at timestamptz, finished_at timestamptz,
               participants text[], error text)
AS 'MODULE_PATHNAME', 'upg_transaction_status'
LANGUAGE C STABLE;

COMMENT ON FUNCTION unified.transaction_status(text) IS
    'State, decision and completion times, participants and error of one distributed transaction';

CREATE PROCEDURE unified.commit_distributed(tx_id text)
AS 'MODULE_PATHNAME', 'upg_commit_distributed'
LANGUAGE C;

COMMENT ON PROCEDURE unified.commit_distributed(text) IS
    'Commit a distributed transaction whose participants are all prepared, or abort it all';

CREATE PROCEDURE unified.abort_distributed(tx_id text)
AS 'MODULE_PATHNAME', 'upg_abort_distributed'
LANGUAGE C;

COMMENT ON PROCEDURE unified.abort_distributed(text) IS
    'Abort a distributed transaction and roll back its prepared participants';

-- One resolver pass now.  in_doubt_timeout, when given, replaces
-- unified_pg.in_doubt_timeout for this pass only (e.g. '0s' to abort every
-- undecided transaction that no coordinator is working on).
CREATE PROCEDURE unified.resolve_in_doubt(in_doubt_timeout interval DEFAULT NULL)
AS 'MODULE_PATHNAME', 'upg_resolve_in_doubt'
LANGUAGE C;

COMMENT ON PROCEDURE unified.resolve_in_doubt(interval) IS
    'Run one pass of the in-doubt transaction resolver now';

CREATE FUNCTION unified.resolver_status_internal(
    OUT pid integer,
    OUT database text,
    OUT naptime_ms integer,
    OUT in_doubt_timeout_s integer,
    OUT log_retention_s integer,
    OUT passes bigint,
    OUT last_pass_started_at timestamptz,
    OUT last_pass_finished_at timestamptz,
    OUT last_pass_ms double precision,
    OUT participants_committed bigint,
    OUT participants_rolled_back bigint,
    OUT transactions_finished bigint,
    OUT transactions_timed_out bigint,
    OUT skipped_locked bigint,
    OUT log_rows_pruned bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'upg_resolver_status'
LANGUAGE C STRICT VOLATILE;

REVOKE ALL ON FUNCTION unified.participant_gid(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION unified.begin_distributed(text, text[], regrole[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION unified.transaction_status(text) FROM PUBLIC;
REVOKE ALL ON PROCEDURE unified.commit_distributed(text) FROM PUBLIC;
REVOKE ALL ON PROCEDURE unified.abort_distributed(text) FROM PUBLIC;
REVOKE ALL ON PROCEDURE unified.resolve_in_doubt(interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION unified.resolver_status_internal() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION unified.participant_gid(text, text)
    TO claude_user, cognee_user, unified_admin;
GRANT EXECUTE ON FUNCTION unified.begin_distributed(text, text[], regrole[])
    TO claude_user, cognee_user, unified_admin;
-- it answers only about what the caller may see
GRANT EXECUTE ON FUNCTION unified.transaction_status(text) TO claude_user, cognee_user, unified_admin;
GRANT EXECUTE ON PROCEDURE unified.commit_distributed(text)
    TO claude_user, cognee_user, unified_admin;
GRANT EXECUTE ON PROCEDURE unified.abort_distributed(text)
    TO claude_user, cognee_user, unified_admin;
GRANT EXECUTE ON PROCEDURE unified.resolve_in_doubt(interval) TO unified_admin;
GRANT EXECUTE ON FUNCTION unified.resolver_status_internal() TO unified_admin;

-- ---- views -------------------------------------------------------------------

-- Every prepared transaction whose gid has the unified: prefix, in any
-- database of the cluster, with what the resolver would do with it now:
-- the rows and the rule come from C (src/dtx_protocol.c), the same code
-- the coordinator and the resolver decide with.  The resolver decides
-- again under the coordinator lock; this view is for people.
CREATE FUNCTION unified.in_doubt_internal(
    OUT gid text,
    OUT tx_id text,
    OUT participant text,
    OUT database text,
    OUT owner text,
    OUT prepared_at timestamptz,
    OUT decision text,
    OUT bound_role regrole,
    OUT planned_action text,
    OUT reason text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'upg_in_doubt_internal'
LANGUAGE C STABLE;

REVOKE ALL ON FUNCTION unified.in_doubt_internal() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unified.in_doubt_internal() TO unified_admin;

CREATE VIEW unified.in_doubt AS
SELECT d.gid, d.tx_id, d.participant, d.database, d.owner, d.prepared_at,
       pg_catalog.now() - d.prepared_at AS age,
       d.decision, d.bound_role, d.planned_action, d.reason
  FROM unified.in_doubt_internal() d;

COMMENT ON VIEW unified.in_doubt IS
    'Prepared unified: participants in every database, with the decision and the resolver''s planned action';

-- One row per state, always all five.
CREATE VIEW unified.transaction_stats AS
WITH states(ord, state) AS (
    VALUES (1, 'pending'), (2, 'committing'), (3, 'committed'), (4, 'aborting'), (5, 'aborted')
), prepared AS (
    SELECT d.tx_id FROM unified.in_doubt_internal() d WHERE d.tx_id IS NOT NULL
)
SELECT s.state,
       pg_catalog.count(l.tx_id) AS transactions,
       (SELECT pg_catalog.count(*) FROM prepared p JOIN unified.transaction_log l2 USING (tx_id)
         WHERE l2.state = s.state) AS prepared_participants,
       pg_catalog.min(l.began_at) AS oldest_began_at,
       pg_catalog.avg(EXTRACT(epoch FROM l.finished_at - l.began_at) * 1000)::double precision
           AS avg_duration_ms,
       pg_catalog.max(EXTRACT(epoch FROM l.finished_at - l.began_at) * 1000)::double precision
           AS max_duration_ms
  FROM states s
  LEFT JOIN unified.transaction_log l ON l.state = s.state
 GROUP BY s.ord, s.state
 ORDER BY s.ord;

COMMENT ON VIEW unified.transaction_stats IS
    'Distributed transactions per state: count, participants still prepared, durations';

CREATE VIEW unified.resolver_status AS
SELECT r.*, r.pid IS NOT NULL AS running
  FROM unified.resolver_status_internal() r;

COMMENT ON VIEW unified.resolver_status IS
    'The in-doubt resolver: worker, settings, last pass and counters since the server started';

REVOKE ALL ON unified.in_doubt, unified.transaction_stats, unified.resolver_status FROM PUBLIC;
GRANT SELECT ON unified.in_doubt, unified.transaction_stats, unified.resolver_status TO unified_admin;
