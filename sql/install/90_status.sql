-- ---------------------------------------------------------------------------
-- Background worker status.
-- ---------------------------------------------------------------------------
CREATE FUNCTION unified.worker_status(
    OUT worker text,
    OUT pid integer,
    OUT database text,
    OUT started_at timestamptz,
    OUT last_loop_at timestamptz,
    OUT loops bigint,
    OUT starts bigint,
    OUT extension_present boolean,
    OUT naptime_ms integer,
    OUT in_recovery boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'upg_worker_status'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION unified.worker_status() IS
    'What each unified_pg background worker (resolver, maintenance) last reported; needs shared_preload_libraries';

REVOKE ALL ON FUNCTION unified.worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unified.worker_status() TO unified_admin;
