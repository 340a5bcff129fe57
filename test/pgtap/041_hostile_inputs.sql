-- Hostile input: every function and procedure of the extension, called by
-- an application role and by an administrator with injection payloads,
-- over-long strings, NULLs and wrong types.  Each call either fails with
-- the expected SQLSTATE or succeeds harmlessly, and afterwards every table
-- of the schema and the catalog entries that matter are exactly as before.
--
-- The list of functions is discovered from the catalog: a function of the
-- extension without a case here fails the test.  When you add a function,
-- add its cases to pg_temp.templates (payloads in a text argument) or
-- pg_temp.cases (everything else).
BEGIN;
-- The revoke functions warn when a role loses its last grant; expected here.
SET LOCAL client_min_messages = error;

CREATE ROLE tap_h_claude LOGIN IN ROLE claude_user;
CREATE ROLE tap_h_admin LOGIN IN ROLE unified_admin;

-- Some data, so that damage would show.
INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content, relative_path)
VALUES ('claude_context', 'tap-h1', 'proj-h', NULL, 'h1', 'h.py'),
       ('cognee', 'tap-h2', NULL, '00000000-0000-0000-0000-0000000000a1', 'h2', NULL),
       ('claude_context', 'tap-h3', 'proj-h', '00000000-0000-0000-0000-0000000000a1', 'h3', 'h.py');
SELECT unified.grant_project('tap_h_claude', 'proj-h') AS setup;

-- A Claude-Context source table the administrator may read.
CREATE TABLE public.code_chunks_4041abcd (id text PRIMARY KEY, vector real[], content text, relative_path text,
    start_line int, end_line int, file_extension text, metadata text, created_at timestamptz);
INSERT INTO public.code_chunks_4041abcd VALUES ('chunk_h', '{1,2}', 'x', 'a.c', 1, 2, '.c', '{}', now());
GRANT SELECT ON public.code_chunks_4041abcd TO tap_h_admin;

-- Payloads, as SQL expressions.
CREATE TEMP TABLE payloads (label text PRIMARY KEY, expr text NOT NULL);
INSERT INTO payloads VALUES
    ('quote',      $p$'x''); DROP TABLE unified.chunks; --'$p$),
    ('semicolon',  $p$'p; DELETE FROM unified.chunks; SELECT 1'$p$),
    ('dollar',     $p$'$$; TRUNCATE unified.chunks; $$'$p$),
    ('percent',    $p$'%s %I %L %% %1$s %n'$p$),
    ('backslash',  $p$E'\\\\ \\x27 \\u0027'$p$),
    ('identifier', $p$'"unified"."chunks"'$p$),
    ('non_ascii',  $p$'projekt-проект-数据-😀-' || chr(8238) || 'txt'$p$),
    ('control',    $p$'a' || chr(1) || chr(27) || '[2J' || chr(127)$p$),
    ('nul',        $p$'a' || chr(0)$p$),
    ('empty',      $p$''$p$),
    ('null',       $p$NULL$p$),
    ('big',        $p$repeat('x', 100000)$p$);

-- Calls with a payload in a text position: %1$s is the payload.  expect is
-- the SQLSTATE (or 'ok'); overrides gives it per payload.
CREATE TEMP TABLE templates (
    fn          text NOT NULL,
    role        text NOT NULL,
    template    text NOT NULL,
    expect      text NOT NULL,
    overrides   jsonb NOT NULL DEFAULT '{}'
);
INSERT INTO templates VALUES
    ('unified.content_hash(text)', 'tap_h_claude',
     'SELECT unified.content_hash(%1$s)', 'ok', '{"nul": "54000"}'),
    ('unified.grant_project(regrole,text)', 'tap_h_claude',
     $t$SELECT unified.grant_project('tap_h_claude', %1$s)$t$, '42501', '{"nul": "54000"}'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin',
     $t$SELECT unified.grant_project('tap_h_claude', %1$s), unified.revoke_project('tap_h_claude', %1$s)$t$, 'ok',
     '{"nul": "54000", "null": "22004", "empty": "22023", "big": "22023"}'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin',
     $t$SELECT unified.grant_project(%1$s, 'p')$t$, '42704',
     '{"null": "22004", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883",
       "quote": "42602", "semicolon": "42602", "dollar": "42602", "percent": "42602", "backslash": "42602",
       "identifier": "42602", "empty": "42602"}'),
    ('unified.revoke_project(regrole,text)', 'tap_h_claude',
     $t$SELECT unified.revoke_project('tap_h_claude', %1$s)$t$, '42501', '{"nul": "54000"}'),
    ('unified.revoke_project(regrole,text)', 'tap_h_admin',
     $t$SELECT unified.revoke_project('tap_h_claude', %1$s)$t$, 'ok',
     '{"nul": "54000", "null": "22004", "empty": "22023", "big": "22023"}'),
    ('unified.grant_dataset(regrole,uuid)', 'tap_h_claude',
     $t$SELECT unified.grant_dataset('tap_h_claude', %1$s)$t$, '22P02',
     '{"null": "42501", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    ('unified.grant_dataset(regrole,uuid)', 'tap_h_admin',
     $t$SELECT unified.grant_dataset('tap_h_claude', %1$s)$t$, '22P02',
     '{"null": "22004", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    ('unified.revoke_dataset(regrole,uuid)', 'tap_h_admin',
     $t$SELECT unified.revoke_dataset(%1$s, '00000000-0000-0000-0000-0000000000a1')$t$, '42704',
     '{"null": "22004", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883",
       "quote": "42602", "semicolon": "42602", "dollar": "42602", "percent": "42602", "backslash": "42602",
       "identifier": "42602", "empty": "42602"}'),
    ('unified.create_monthly_partition(date)', 'tap_h_claude',
     'SELECT unified.create_monthly_partition(%1$s)', '22007',
     '{"null": "42501", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    ('unified.create_monthly_partition(date)', 'tap_h_admin',
     'SELECT unified.create_monthly_partition(%1$s)', '22007',
     '{"null": "22004", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    ('unified.tenant_project_check(text)', 'tap_h_claude',
     'SELECT unified.tenant_project_check(%1$s)', '42501', '{"nul": "54000"}'),
    ('unified.tenant_project_check(text)', 'tap_h_admin',
     'SELECT unified.tenant_project_check(%1$s)', '42501', '{"nul": "54000"}'),
    -- Maintenance.  A retention literal is parsed before anything runs; with
    -- premake => -1 a NULL retention is refused too, so no pass ever runs.
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_claude',
     'SELECT unified.run_maintenance(0, %1$s)', '22007',
     '{"null": "42501", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin',
     'SELECT unified.run_maintenance(-1, %1$s)', '22007',
     '{"null": "22023", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    -- The procedure refuses bad arguments through run_maintenance() before it
    -- would COMMIT (which it cannot do here, inside BEGIN).
    ('unified.run_maintenance_all(integer,interval,boolean)', 'tap_h_admin',
     'CALL unified.run_maintenance_all(-1, %1$s)', '22007',
     '{"null": "22023", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    -- Every payload is refused by the cron-expression check (NUL earlier).
    ('unified.schedule_maintenance(text,integer,interval)', 'tap_h_claude',
     'SELECT unified.schedule_maintenance(%1$s)', '42501', '{"nul": "54000"}'),
    ('unified.schedule_maintenance(text,integer,interval)', 'tap_h_admin',
     'SELECT unified.schedule_maintenance(%1$s)', '22023', '{"nul": "54000"}'),
    ('unified.cron_schedule_elsewhere(text,text,text)', 'tap_h_claude',
     -- (a STRICT call with a NULL constant is folded to NULL by the planner:
     -- never executed, so no privilege check either)
     $t$SELECT unified.cron_schedule_elsewhere(%1$s, '0 0 * * *', 'SELECT 1')$t$, '42501',
     '{"nul": "54000", "null": "ok"}'),
    -- Internal since schedule_maintenance runs as the extension's owner:
    -- an administrator cannot call it either.
    ('unified.cron_schedule_elsewhere(text,text,text)', 'tap_h_admin',
     $t$SELECT unified.cron_schedule_elsewhere(%1$s, '0 0 * * *', repeat('x', 300))$t$, '42501',
     '{"nul": "54000", "null": "ok"}'),
    -- Only calls that fail before a registration worker starts: an over-long
    -- command makes every payload in the job name fail with 22001.
    ('unified.cron_schedule_elsewhere(text,text,text)', current_user,
     $t$SELECT unified.cron_schedule_elsewhere(%1$s, '0 0 * * *', repeat('x', 300))$t$, '22001',
     '{"nul": "54000", "null": "ok"}'),
    ('unified.maintenance_try_month(date)', 'tap_h_claude',
     'SELECT unified.maintenance_try_month(%1$s)', '22007',
     '{"null": "42501", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    ('unified.maintenance_try_month(date)', 'tap_h_admin',
     'SELECT unified.maintenance_try_month(%1$s)', '22007',
     '{"null": "42501", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    -- Plans only, with the caller's rights; one plain SELECT or nothing.
    ('unified.explain_select(text)', 'tap_h_claude',
     'SELECT unified.explain_select(%1$s)', '42601',
     '{"nul": "54000", "null": "ok", "empty": "22023"}'),
    ('unified.explain_pruning(text)', 'tap_h_claude',
     'SELECT * FROM unified.explain_pruning(%1$s)', '42601',
     '{"nul": "54000", "null": "ok", "empty": "22023"}'),
    -- Distributed transactions: identifiers are validated before anything
    -- else (ASCII letters, digits, _ - and . in tx ids; 128 / 63 bytes).
    ('unified.participant_gid(text,text)', 'tap_h_claude',
     $t$SELECT unified.participant_gid(%1$s, 'p')$t$, '22023',
     '{"nul": "54000", "null": "22004", "big": "22001"}'),
    ('unified.participant_gid(text,text)', 'tap_h_claude',
     $t$SELECT unified.participant_gid('tap-h.tx', %1$s)$t$, '22023',
     '{"nul": "54000", "null": "22004", "big": "22001"}'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude',
     $t$SELECT unified.begin_distributed(%1$s, ARRAY['p1'])$t$, '22023',
     '{"nul": "54000", "null": "22004", "big": "22001"}'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude',
     $t$SELECT unified.begin_distributed('tap-h-tx', ARRAY['p1', %1$s])$t$, '22023',
     '{"nul": "54000", "null": "22004", "big": "22001"}'),
    ('unified.commit_distributed(text)', 'tap_h_claude',
     'CALL unified.commit_distributed(%1$s)', '22023',
     '{"nul": "54000", "null": "22004", "big": "22001"}'),
    ('unified.abort_distributed(text)', 'tap_h_claude',
     'CALL unified.abort_distributed(%1$s)', '22023',
     '{"nul": "54000", "null": "22004", "big": "22001"}'),
    ('unified.abort_distributed(text)', 'tap_h_admin',
     'CALL unified.abort_distributed(%1$s)', '22023',
     '{"nul": "54000", "null": "22004", "big": "22001"}'),
    ('unified.transaction_status(text)', 'tap_h_claude',
     'SELECT * FROM unified.transaction_status(%1$s)', '22023',
     '{"nul": "54000", "null": "22004", "big": "22001"}'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude',
     $t$SELECT unified.begin_distributed('tap-h-tx', ARRAY['p1'], ARRAY[%1$s]::regrole[])$t$, '42704',
     '{"null": "22004", "nul": "54000", "empty": "42602", "quote": "42602", "semicolon": "42602",
       "dollar": "42602", "percent": "42602", "backslash": "42602", "identifier": "42602",
       "non_ascii": "42704", "control": "42704", "big": "42704"}'),
    ('unified.resolve_in_doubt(interval)', 'tap_h_admin',
     'CALL unified.resolve_in_doubt(%1$s)', '22007',
     '{"null": "25001", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    -- Operations: payloads as filters and names are data, never SQL.
    ('unified.delete_chunks(text,text,text[])', 'tap_h_claude',
     $t$SELECT unified.delete_chunks('claude_context', %1$s, ARRAY['tap-h-none'])$t$, 'ok',
     '{"nul": "54000", "null": "22004"}'),
    ('unified.delete_chunks(text,text,text[])', 'tap_h_claude',
     $t$SELECT unified.delete_chunks('claude_context', '', ARRAY[%1$s])$t$, 'ok',
     '{"nul": "54000", "null": "22004"}'),
    ('unified.delete_file_chunks(text,text,text)', 'tap_h_claude',
     $t$SELECT unified.delete_file_chunks('proj-h', %1$s)$t$, 'ok',
     '{"nul": "54000", "null": "22004"}'),
    ('unified.delete_file_chunks(text,text,text)', 'tap_h_admin',
     $t$SELECT unified.delete_file_chunks(%1$s, 'h.py', 'x')$t$, 'ok',
     '{"nul": "54000", "null": "22004"}'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude',
     $t$SELECT count(*) FROM unified.search_chunks('{1,0}', 5, %1$s, NULL, %1$s)$t$, 'ok',
     '{"nul": "54000"}'),
    ('unified.hybrid_search(real[],text,integer,text,uuid,text,jsonb,real)', 'tap_h_claude',
     $t$SELECT count(*) FROM unified.hybrid_search('{1,0}', %1$s, 5, %1$s)$t$, 'ok',
     '{"nul": "54000", "null": "22004"}'),
    ('unified.metadata_merge(jsonb,jsonb,text[])', 'tap_h_claude',
     $t$SELECT unified.metadata_merge('{"a": [1]}', '{"a": [2]}', ARRAY[%1$s])$t$, 'ok',
     '{"nul": "54000"}'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude',
     $t$SELECT * FROM unified.upsert_chunks(pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('source', 'claude_context', 'source_id', %1$s, 'project_id', 'proj-other', 'content', 'x')))$t$,
     '42501', '{"nul": "54000", "null": "22023"}'),
    ('unified.upsert_chunks(jsonb,text[])', 'tap_h_claude',
     $t$SELECT * FROM unified.upsert_chunks(pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('source', 'claude_context', 'source_id', 'tap-h9', 'project_id', %1$s, 'content', 'x')), ARRAY[%1$s])$t$,
     '42501', '{"nul": "54000", "null": "23514"}'),
    ('unified.enable_vector_index(integer,text)', 'tap_h_claude',
     'SELECT unified.enable_vector_index(8, %1$s)', '42501', '{"nul": "54000"}'),
    ('unified.enable_vector_index(integer,text)', 'tap_h_admin',
     'SELECT unified.enable_vector_index(8, %1$s)', '22023', '{"nul": "54000", "null": "22004"}'),
    -- Migration.  A source is a regclass: payloads are names that do not
    -- resolve.  A valid call runs up to its first COMMIT, which is refused
    -- inside this test's transaction (2D000) and undoes everything.
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin',
     'CALL unified.migrate_claude_chunks(%1$s)', '42P01',
     '{"null": "22004", "nul": "54000", "empty": "42602", "quote": "42602", "semicolon": "42602", "dollar": "42602",
       "percent": "42602", "backslash": "42602", "identifier": "42703"}'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin',
     $t$CALL unified.migrate_claude_chunks('public.code_chunks_4041abcd', %1$s)$t$, '2D000',
     '{"nul": "54000", "empty": "22023", "big": "22023"}'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_claude',
     $t$CALL unified.migrate_claude_chunks('public.code_chunks_4041abcd', %1$s)$t$, '42501', '{}'),
    ('unified.migrate_cognee_data(regclass,uuid,integer)', 'tap_h_admin',
     'CALL unified.migrate_cognee_data(%1$s)', '42P01',
     '{"null": "22004", "nul": "54000", "empty": "42602", "quote": "42602", "semicolon": "42602", "dollar": "42602",
       "percent": "42602", "backslash": "42602", "identifier": "42703"}'),
    ('unified.migrate_cognee_data(regclass,uuid,integer)', 'tap_h_admin',
     $t$CALL unified.migrate_cognee_data('public.code_chunks_4041abcd', %1$s)$t$, '22P02',
     '{"null": "42703", "nul": "42883", "non_ascii": "42883", "control": "42883", "big": "42883"}'),
    ('unified.migration_source_info(text,regclass)', 'tap_h_admin',
     $t$SELECT unified.migration_source_info(%1$s, 'public.code_chunks_4041abcd')$t$, '22023', '{"nul": "54000"}'),
    ('unified.migration_text_vector(text)', 'tap_h_admin',
     'SELECT unified.migration_text_vector(%1$s)', 'ok', '{"nul": "54000"}'),
    ('unified.migration_json_valid(text)', 'tap_h_admin',
     'SELECT unified.migration_json_valid(%1$s)', 'ok', '{"nul": "54000"}'),
    ('unified.migration_ms_timestamp(text)', 'tap_h_admin',
     'SELECT unified.migration_ms_timestamp(%1$s)', 'ok', '{"nul": "54000"}'),
    ('unified.migration_dataset_from_name(text)', 'tap_h_admin',
     'SELECT unified.migration_dataset_from_name(%1$s)', 'ok', '{"nul": "54000"}'),
    ('unified.migration_row_hash(text,bytea)', 'tap_h_admin',
     $t$SELECT unified.migration_row_hash(%1$s, '\x00')$t$, 'ok', '{"nul": "54000"}'),
    ('unified.migration_stored_keys(text,text,text[])', 'tap_h_admin',
     $t$SELECT unified.migration_stored_keys('claude_context', %1$s, ARRAY[%1$s, 'tap-h1'])$t$, 'ok', '{"nul": "54000"}'),
    ('unified.migration_stored_keys(text,text,text[])', 'tap_h_claude',
     $t$SELECT unified.migration_stored_keys('claude_context', '', ARRAY[%1$s])$t$, '42501', '{"nul": "54000"}'),
    ('unified.migration_source_failed(integer,text)', 'tap_h_admin',
     'SELECT unified.migration_source_failed(-1, %1$s)', 'ok', '{"nul": "54000"}'),
    ('unified.migration_source_problem(text,regclass)', 'tap_h_admin',
     $t$SELECT unified.migration_source_problem('cognee', %1$s)$t$, '42P01',
     '{"null": "ok", "nul": "54000", "empty": "42602", "quote": "42602", "semicolon": "42602", "dollar": "42602",
       "percent": "42602", "backslash": "42602", "identifier": "ok"}');

-- Calls without a payload: wrong types, wrong arity, NULLs, privileges.
-- Trigger functions are executable by nobody but their owner.
CREATE TEMP TABLE cases (
    fn      text NOT NULL,
    role    text NOT NULL,
    call    text NOT NULL,
    expect  text NOT NULL
);
INSERT INTO cases VALUES
    ('unified.content_hash(text)', 'tap_h_claude', 'SELECT unified.content_hash(42)', '42883'),
    ('unified.content_hash(text)', 'tap_h_claude', $c$SELECT unified.content_hash('a', 'b')$c$, '42883'),
    ('unified.caller_roles()', 'tap_h_claude', 'SELECT unified.caller_roles()', 'ok'),
    ('unified.caller_roles()', 'tap_h_claude', $c$SELECT unified.caller_roles('postgres')$c$, '42883'),
    ('unified.visible_projects()', 'tap_h_claude', 'SELECT unified.visible_projects()', 'ok'),
    ('unified.visible_projects()', 'tap_h_claude', $c$SELECT unified.visible_projects('proj-x')$c$, '42883'),
    ('unified.visible_datasets()', 'tap_h_claude', 'SELECT unified.visible_datasets()', 'ok'),
    ('unified.visible_datasets()', 'tap_h_claude', $c$SELECT unified.visible_datasets(NULL)$c$, '42883'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.grant_project(1, 2)$c$, '42883'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.grant_project(0::oid::regrole, 'p')$c$, '42704'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.grant_project(4294967295::oid::regrole, 'p')$c$, '42704'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.grant_project('public', 'p')$c$, '42704'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.grant_project('postgres', 'p')$c$, '22023'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.grant_project('claude_user', 'p')$c$, '22023'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.grant_project('tap_h_admin', 'p'), unified.revoke_project('tap_h_admin', 'p')$c$, 'ok'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.grant_project(role => 'tap_h_claude', project_id => 'p', extra => 1)$c$, '42883'),
    ('unified.grant_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.grant_project(NULL, NULL)$c$, '22004'),
    ('unified.revoke_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.revoke_project(NULL, 'p')$c$, '22004'),
    ('unified.revoke_project(regrole,text)', 'tap_h_admin', $c$SELECT unified.revoke_project('tap_h_claude', ARRAY['p'])$c$, '42883'),
    ('unified.grant_dataset(regrole,uuid)', 'tap_h_admin', $c$SELECT unified.grant_dataset('tap_h_claude', 42)$c$, '42883'),
    ('unified.grant_dataset(regrole,uuid)', 'tap_h_admin', $c$SELECT unified.grant_dataset(NULL, '00000000-0000-0000-0000-0000000000a1')$c$, '22004'),
    ('unified.grant_dataset(regrole,uuid)', 'tap_h_admin', $c$SELECT unified.grant_dataset('tap_h_claude', '00000000-0000-0000-0000-0000000000a1'), unified.revoke_dataset('tap_h_claude', '00000000-0000-0000-0000-0000000000a1')$c$, 'ok'),
    ('unified.revoke_dataset(regrole,uuid)', 'tap_h_claude', $c$SELECT unified.revoke_dataset('tap_h_claude', '00000000-0000-0000-0000-0000000000a1')$c$, '42501'),
    ('unified.revoke_dataset(regrole,uuid)', 'tap_h_admin', $c$SELECT unified.revoke_dataset('tap_h_claude', NULL)$c$, '22004'),
    ('unified.revoke_dataset(regrole,uuid)', 'tap_h_admin', $c$SELECT unified.revoke_dataset('tap_h_claude', 'not-a-uuid')$c$, '22P02'),
    ('unified.create_monthly_partition(date)', 'tap_h_admin', 'SELECT unified.create_monthly_partition(true)', '42883'),
    ('unified.create_monthly_partition(date)', 'tap_h_admin', $c$SELECT unified.create_monthly_partition('infinity')$c$, '22008'),
    ('unified.create_monthly_partition(date)', 'tap_h_admin', $c$SELECT unified.create_monthly_partition('-infinity')$c$, '22008'),
    ('unified.create_monthly_partition(date)', 'tap_h_admin', $c$SELECT unified.create_monthly_partition('0900-01-01')$c$, '22008'),
    ('unified.create_monthly_partition(date)', 'tap_h_admin', $c$SELECT unified.create_monthly_partition('9999-12-31')$c$, '22008'),
    ('unified.worker_status()', 'tap_h_claude', 'SELECT * FROM unified.worker_status()', '42501'),
    ('unified.worker_status()', 'tap_h_admin', 'SELECT * FROM unified.worker_status()', 'ok'),
    ('unified.worker_status()', 'tap_h_admin', 'SELECT * FROM unified.worker_status(1)', '42883'),
    ('unified.tenant_role_check(regrole)', 'tap_h_claude', $c$SELECT unified.tenant_role_check('tap_h_claude')$c$, '42501'),
    ('unified.tenant_role_check(regrole)', 'tap_h_admin', 'SELECT unified.tenant_role_check(NULL)', '42501'),
    ('unified.tenant_last_grant_warning(oid)', 'tap_h_claude', 'SELECT unified.tenant_last_grant_warning(NULL)', '42501'),
    ('unified.tenant_last_grant_warning(oid)', 'tap_h_admin', 'SELECT unified.tenant_last_grant_warning(10)', '42501'),
    ('unified.chunk_keys_add()', 'tap_h_claude', 'SELECT unified.chunk_keys_add()', '42501'),
    ('unified.chunk_keys_add()', 'tap_h_admin', 'SELECT unified.chunk_keys_add()', '42501'),
    ('unified.chunk_keys_remove()', 'tap_h_claude', 'SELECT unified.chunk_keys_remove()', '42501'),
    ('unified.chunk_keys_truncate()', 'tap_h_claude', 'SELECT unified.chunk_keys_truncate()', '42501'),
    ('unified.chunk_keys_refuse_update()', 'tap_h_claude', 'SELECT unified.chunk_keys_refuse_update()', '42501'),
    ('unified.chunks_refuse_sharing_change()', 'tap_h_claude', 'SELECT unified.chunks_refuse_sharing_change()', '42501'),
    -- Maintenance: administrators only; arguments checked before any work.
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_claude', 'SELECT unified.run_maintenance(premake => 0)', '42501'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', 'SELECT unified.run_maintenance(premake => NULL)', '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', 'SELECT unified.run_maintenance(premake => 121)', '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', 'SELECT unified.run_maintenance(premake => 2147483647)', '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', 'SELECT unified.run_maintenance(premake => 2147483648)', '42883'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', $c$SELECT unified.run_maintenance(premake => 'x')$c$, '22P02'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', $c$SELECT unified.run_maintenance(retention => '-1 month')$c$, '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', $c$SELECT unified.run_maintenance(retention => '0')$c$, '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', $c$SELECT unified.run_maintenance(retention => '1 month -40 days')$c$, '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', 'SELECT unified.run_maintenance(drop_detached => NULL)', '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', 'SELECT unified.run_maintenance(batch_rows => 0)', '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', 'SELECT unified.run_maintenance(batch_rows => -9223372036854775808)', '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', $c$SELECT unified.run_maintenance(lock_wait => '0')$c$, '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', $c$SELECT unified.run_maintenance(lock_wait => '1 hour 1 second')$c$, '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', 'SELECT unified.run_maintenance(lock_wait => NULL)', '22023'),
    ('unified.run_maintenance(integer,interval,boolean,bigint,interval)', 'tap_h_admin', 'SELECT unified.run_maintenance(1, 2, 3, 4, 5)', '42883'),
    ('unified.run_maintenance_all(integer,interval,boolean)', 'tap_h_claude', 'CALL unified.run_maintenance_all()', '42501'),
    ('unified.run_maintenance_all(integer,interval,boolean)', 'tap_h_admin', 'CALL unified.run_maintenance_all(premake => 121)', '22023'),
    ('unified.run_maintenance_all(integer,interval,boolean)', 'tap_h_admin', $c$CALL unified.run_maintenance_all(retention => '-1 day')$c$, '22023'),
    ('unified.run_maintenance_all(integer,interval,boolean)', 'tap_h_admin', 'CALL unified.run_maintenance_all(drop_detached => NULL)', '22023'),
    -- Valid arguments: one pass runs, then its COMMIT is refused inside BEGIN
    -- (invalid transaction termination), which undoes the pass.
    ('unified.run_maintenance_all(integer,interval,boolean)', 'tap_h_admin', 'CALL unified.run_maintenance_all(premake => 0)', '2D000'),
    ('unified.run_maintenance_all(integer,interval,boolean)', 'tap_h_admin', 'CALL unified.run_maintenance_all(1, 2, 3)', '42883'),
    ('unified.run_maintenance_all(integer,interval,boolean)', 'tap_h_admin', 'SELECT unified.run_maintenance_all()', '42809'),
    ('unified.ensure_monthly_partition(date)', 'tap_h_claude', 'SELECT unified.ensure_monthly_partition(CURRENT_DATE)', '42501'),
    ('unified.ensure_monthly_partition(date)', 'tap_h_admin', $c$SELECT unified.ensure_monthly_partition('2044-01-01')$c$, '42501'),
    ('unified.ensure_monthly_partition(date)', current_user, 'SELECT unified.ensure_monthly_partition(NULL)', '22004'),
    ('unified.ensure_monthly_partition(date)', current_user, $c$SELECT unified.ensure_monthly_partition('infinity')$c$, '22008'),
    ('unified.ensure_monthly_partition(date)', current_user, $c$SELECT unified.ensure_monthly_partition('1899-12-31')$c$, '22008'),
    ('unified.ensure_monthly_partition(date)', current_user, $c$SELECT unified.ensure_monthly_partition('9999-12-01')$c$, '22008'),
    ('unified.ensure_monthly_partition(date)', current_user, $c$SELECT unified.ensure_monthly_partition('x')$c$, '22007'),
    -- The current UTC month exists since CREATE EXTENSION: found, not made.
    ('unified.ensure_monthly_partition(date)', current_user, $c$SELECT unified.ensure_monthly_partition((pg_catalog.now() AT TIME ZONE 'UTC')::date)$c$, 'ok'),
    ('unified.maintenance_status()', 'tap_h_claude', 'SELECT * FROM unified.maintenance_status()', '42501'),
    ('unified.maintenance_status()', 'tap_h_admin', 'SELECT * FROM unified.maintenance_status()', 'ok'),
    ('unified.maintenance_status()', 'tap_h_admin', 'SELECT * FROM unified.maintenance_status(0)', '42883'),
    ('unified.schedule_maintenance(text,integer,interval)', 'tap_h_claude', 'SELECT unified.schedule_maintenance()', '42501'),
    ('unified.schedule_maintenance(text,integer,interval)', 'tap_h_admin', $c$SELECT unified.schedule_maintenance('61 * * *')$c$, '22023'),
    ('unified.schedule_maintenance(text,integer,interval)', 'tap_h_admin', $c$SELECT unified.schedule_maintenance('0 0 * * *; DROP TABLE unified.chunks')$c$, '22023'),
    ('unified.schedule_maintenance(text,integer,interval)', 'tap_h_admin', $c$SELECT unified.schedule_maintenance('0 0 * * *' || E'\n' || 'x')$c$, '22023'),
    ('unified.schedule_maintenance(text,integer,interval)', 'tap_h_admin', $c$SELECT unified.schedule_maintenance('0 0 * * *', premake => 500)$c$, '22023'),
    ('unified.schedule_maintenance(text,integer,interval)', 'tap_h_admin', $c$SELECT unified.schedule_maintenance('0 0 * * *', premake => NULL)$c$, '22023'),
    ('unified.schedule_maintenance(text,integer,interval)', 'tap_h_admin', $c$SELECT unified.schedule_maintenance('0 0 * * *', retention => '-1 day')$c$, '22023'),
    ('unified.schedule_maintenance(text,integer,interval)', 'tap_h_admin', $c$SELECT unified.schedule_maintenance('0 0 * * *', 'x')$c$, '22P02'),
    -- pg_cron is preloaded on the test server and cron.database_name is this
    -- database, but its extension is not created here: refused, no job.
    ('unified.schedule_maintenance(text,integer,interval)', current_user, $c$SELECT unified.schedule_maintenance('0 0 * * *')$c$, '55000'),
    ('unified.cron_schedule_elsewhere(text,text,text)', 'tap_h_claude', $c$SELECT unified.cron_schedule_elsewhere('unified_pg_maintenance', '* * * * *', 'DROP TABLE unified.chunks')$c$, '42501'),
    ('unified.cron_schedule_elsewhere(text,text,text)', 'tap_h_admin', $c$SELECT unified.cron_schedule_elsewhere('j', repeat('*', 200), 'SELECT 1')$c$, '42501'),
    ('unified.cron_schedule_elsewhere(text,text,text)', current_user, $c$SELECT unified.cron_schedule_elsewhere('j', repeat('*', 200), 'SELECT 1')$c$, '22001'),
    ('unified.cron_schedule_elsewhere(text,text,text)', current_user, $c$SELECT unified.cron_schedule_elsewhere(repeat('j', 64), '0 0 * * *', 'SELECT 1')$c$, '22001'),
    -- Maintenance internals: the owner's functions call them, nobody else can.
    ('unified.maintenance_lock()', 'tap_h_claude', 'SELECT unified.maintenance_lock()', '42501'),
    ('unified.maintenance_lock()', 'tap_h_admin', 'SELECT unified.maintenance_lock()', '42501'),
    ('unified.maintenance_lock()', 'tap_h_admin', 'SELECT unified.maintenance_lock(true)', '42883'),
    ('unified.maintenance_blockers()', 'tap_h_claude', 'SELECT * FROM unified.maintenance_blockers()', '42501'),
    ('unified.maintenance_blockers()', 'tap_h_admin', 'SELECT * FROM unified.maintenance_blockers()', '42501'),
    ('unified.maintenance_blockers()', current_user, 'SELECT * FROM unified.maintenance_blockers()', 'ok'),
    ('unified.maintenance_try_month(date)', 'tap_h_admin', 'SELECT unified.maintenance_try_month(42)', '42883'),
    ('unified.maintenance_secure_partitions()', 'tap_h_claude', 'SELECT unified.maintenance_secure_partitions()', '42501'),
    ('unified.maintenance_secure_partitions()', 'tap_h_admin', 'SELECT unified.maintenance_secure_partitions()', '42501'),
    ('unified.maintenance_secure_partitions()', current_user, $c$SELECT unified.maintenance_secure_partitions() = '{"secured": [], "errors": []}'$c$, 'ok'),
    ('unified.maintenance_retention(interval,boolean,bigint,timestamp with time zone,interval)', 'tap_h_claude', $c$SELECT unified.maintenance_retention('1 day', false, 1, NULL, '1s')$c$, '42501'),
    ('unified.maintenance_retention(interval,boolean,bigint,timestamp with time zone,interval)', 'tap_h_admin', $c$SELECT unified.maintenance_retention('1 day', false, 1, NULL, '1s')$c$, '42501'),
    ('unified.maintenance_retention(interval,boolean,bigint,timestamp with time zone,interval)', current_user, $c$SELECT unified.maintenance_retention(NULL, false, 1, NULL, '1s')$c$, '22004'),
    ('unified.maintenance_retention(interval,boolean,bigint,timestamp with time zone,interval)', current_user, $c$SELECT unified.maintenance_retention('1 day', 'x', 1, NULL, '1s')$c$, '22P02'),
    ('unified.maintenance_retention(interval,boolean,bigint,timestamp with time zone,interval)', current_user, $c$SELECT unified.maintenance_retention('1 day')$c$, '42883'),
    ('unified.maintenance_try_month(date)', current_user, 'SELECT unified.maintenance_try_month(NULL)', '22004'),
    ('unified.maintenance_try_month(date)', current_user, $c$SELECT unified.maintenance_try_month('infinity')$c$, '22008'),
    ('unified.tenant_role_token(oid)', 'tap_h_claude', $c$SELECT unified.tenant_role_token('tap_h_claude'::regrole)$c$, '42501'),
    ('unified.tenant_role_token(oid)', 'tap_h_admin', $c$SELECT unified.tenant_role_token('tap_h_claude'::regrole)$c$, '42501'),
    ('unified.tenant_role_token(oid)', current_user, 'SELECT unified.tenant_role_token(0)', '42704'),
    ('unified.tenant_role_token(oid)', current_user, $c$SELECT unified.tenant_role_token('x')$c$, '22P02'),
    ('unified.cron_schedule_elsewhere(text,text,text)', 'tap_h_admin', $c$SELECT unified.cron_schedule_elsewhere('j', '0 0 * * *', NULL)$c$, 'ok'),
    ('unified.cron_schedule_elsewhere(text,text,text)', 'tap_h_admin', $c$SELECT unified.cron_schedule_elsewhere('j', '0 0 * * *')$c$, '42883'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('SELECT 1')$c$, 'ok'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('SELECT * FROM unified.chunks WHERE project_id = ''proj-h''')$c$, 'ok'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('SELECT * FROM unified.transaction_log')$c$, '42501'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('SELECT * FROM unified.project_grants')$c$, '42501'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('SELECT 1; SELECT 2')$c$, '22023'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('DELETE FROM unified.chunks')$c$, '22023'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('TRUNCATE unified.chunks')$c$, '22023'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('WITH d AS (DELETE FROM unified.chunks RETURNING *) SELECT * FROM d')$c$, '22023'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('SELECT * FROM (WITH d AS (UPDATE unified.chunks SET content = ''x'' RETURNING 1) SELECT * FROM d) s')$c$, '22023'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('SELECT * INTO pg_temp.h_victim FROM unified.chunks')$c$, '22023'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('SELECT * FROM unified.chunks FOR UPDATE')$c$, '22023'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('EXPLAIN ANALYZE DELETE FROM unified.chunks')$c$, '22023'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('SELECT 1) ; DROP TABLE unified.chunks; --')$c$, '42601'),
    ('unified.explain_select(text)', 'tap_h_claude', $c$SELECT unified.explain_select('SELECT 1 /*')$c$, '42601'),
    ('unified.explain_select(text)', 'tap_h_admin', $c$SELECT unified.explain_select('SELECT * FROM unified.transaction_log')$c$, 'ok'),
    ('unified.explain_select(text)', 'tap_h_claude', 'SELECT unified.explain_select(42)', '42883'),
    ('unified.explain_pruning(text)', 'tap_h_claude', $c$SELECT * FROM unified.explain_pruning('SELECT * FROM unified.chunks')$c$, 'ok'),
    ('unified.explain_pruning(text)', 'tap_h_claude', $c$SELECT * FROM unified.explain_pruning('SELECT * FROM unified.transaction_log')$c$, '42501'),
    ('unified.explain_pruning(text)', 'tap_h_claude', $c$SELECT * FROM unified.explain_pruning('DELETE FROM unified.chunks')$c$, '22023'),
    ('unified.explain_pruning(text)', 'tap_h_claude', $c$SELECT * FROM unified.explain_pruning('SELECT 1; TRUNCATE unified.chunks')$c$, '22023'),
    ('unified.explain_pruning(text)', 'tap_h_claude', $c$SELECT * FROM unified.explain_pruning('WITH d AS (DELETE FROM unified.chunks RETURNING *) SELECT * FROM d')$c$, '22023'),
    ('unified.explain_pruning(text)', 'tap_h_claude', $c$SELECT * FROM unified.explain_pruning('SELECT * FROM unified.chunks FOR SHARE')$c$, '22023'),
    ('unified.explain_pruning(text)', 'tap_h_claude', $c$SELECT * FROM unified.explain_pruning('CREATE TABLE pg_temp.h_victim ()')$c$, '22023'),
    ('unified.explain_pruning(text)', 'tap_h_claude', 'SELECT * FROM unified.explain_pruning(ARRAY[1])', '42883'),
    ('unified.finish_restore()', 'tap_h_claude', 'SELECT unified.finish_restore()', '42501'),
    ('unified.finish_restore()', 'tap_h_admin', 'SELECT unified.finish_restore()', '42501'),
    ('unified.finish_restore()', current_user, 'SELECT unified.finish_restore()', '55000'),
    ('unified.finish_restore()', current_user, 'SELECT unified.finish_restore(1)', '42883'),
    -- Distributed transactions.  Valid ids would pass validation: CALLs then
    -- refuse to run inside BEGIN (25001); begin_distributed would log a row,
    -- so only calls it refuses are made here.
    ('unified.participant_gid(text,text)', 'tap_h_claude', $c$SELECT unified.participant_gid('tap-h.tx_1', 'p-1')$c$, 'ok'),
    ('unified.participant_gid(text,text)', 'tap_h_claude', $c$SELECT unified.participant_gid('tx:1', 'p')$c$, '22023'),
    ('unified.participant_gid(text,text)', 'tap_h_claude', $c$SELECT unified.participant_gid('tx', 'p.1')$c$, '22023'),
    ('unified.participant_gid(text,text)', 'tap_h_claude', $c$SELECT unified.participant_gid(repeat('t', 129), 'p')$c$, '22001'),
    ('unified.participant_gid(text,text)', 'tap_h_claude', $c$SELECT unified.participant_gid('tx', repeat('p', 64))$c$, '22001'),
    ('unified.participant_gid(text,text)', 'tap_h_claude', $c$SELECT unified.participant_gid(repeat('t', 128), repeat('p', 63))$c$, '22001'),
    ('unified.participant_gid(text,text)', 'tap_h_claude', 'SELECT unified.participant_gid(NULL, NULL)', '22004'),
    ('unified.participant_gid(text,text)', 'tap_h_claude', 'SELECT unified.participant_gid(1, 2)', '42883'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', NULL)$c$, '22004'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', '{}')$c$, '22023'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', '{{a,b},{c,d}}')$c$, '22023'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', ARRAY['a', 'a'])$c$, '22023'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', (SELECT array_agg('p' || i) FROM generate_series(1, 65) AS i))$c$, '22023'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed(repeat('t', 128), ARRAY[repeat('p', 63)])$c$, '22001'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', 'a')$c$, '22P02'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', 42)$c$, '42883'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_admin', $c$SELECT unified.begin_distributed('tap-h-tx', ARRAY['p:1'])$c$, '22023'),
    ('unified.commit_distributed(text)', 'tap_h_claude', $c$CALL unified.commit_distributed('tap-h-none')$c$, '25001'),
    ('unified.commit_distributed(text)', 'tap_h_admin', $c$CALL unified.commit_distributed('tap-h-none')$c$, '25001'),
    ('unified.commit_distributed(text)', 'tap_h_claude', $c$CALL unified.commit_distributed(repeat('t', 129))$c$, '22001'),
    ('unified.commit_distributed(text)', 'tap_h_claude', 'CALL unified.commit_distributed(42)', '42883'),
    ('unified.commit_distributed(text)', 'tap_h_claude', $c$SELECT unified.commit_distributed('tap-h-none')$c$, '42809'),
    ('unified.abort_distributed(text)', 'tap_h_claude', $c$CALL unified.abort_distributed('tap-h-none')$c$, '25001'),
    ('unified.abort_distributed(text)', 'tap_h_admin', $c$CALL unified.abort_distributed('tap-h-none')$c$, '25001'),
    ('unified.abort_distributed(text)', 'tap_h_claude', $c$CALL unified.abort_distributed('tap-h-none', 'x')$c$, '42883'),
    ('unified.abort_distributed(text)', 'tap_h_claude', $c$SELECT unified.abort_distributed('tap-h-none')$c$, '42809'),
    ('unified.resolve_in_doubt(interval)', 'tap_h_claude', $c$CALL unified.resolve_in_doubt('0s')$c$, '42501'),
    ('unified.resolve_in_doubt(interval)', 'tap_h_admin', $c$CALL unified.resolve_in_doubt('0s')$c$, '25001'),
    ('unified.resolve_in_doubt(interval)', 'tap_h_admin', $c$CALL unified.resolve_in_doubt('-1 day')$c$, '25001'),
    ('unified.resolve_in_doubt(interval)', 'tap_h_admin', 'CALL unified.resolve_in_doubt(1)', '42883'),
    ('unified.resolve_in_doubt(interval)', 'tap_h_admin', 'SELECT unified.resolve_in_doubt()', '42809'),
    ('unified.resolver_status_internal()', 'tap_h_claude', 'SELECT * FROM unified.resolver_status_internal()', '42501'),
    ('unified.resolver_status_internal()', 'tap_h_admin', 'SELECT * FROM unified.resolver_status_internal()', 'ok'),
    ('unified.resolver_status_internal()', 'tap_h_admin', 'SELECT * FROM unified.resolver_status_internal(NULL)', '42883'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', ARRAY['a', 'b'], ARRAY['tap_h_claude']::regrole[])$c$, '22023'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', ARRAY['a'], ARRAY[NULL]::regrole[])$c$, '22004'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', ARRAY['a'], ARRAY[4000000000::oid::regrole])$c$, '42704'),
    ('unified.begin_distributed(text,text[],regrole[])', 'tap_h_claude', $c$SELECT unified.begin_distributed('tap-h-tx', ARRAY['a'], '{{1},{2}}'::regrole[])$c$, '22023'),
    ('unified.transaction_status(text)', 'tap_h_claude', $c$SELECT * FROM unified.transaction_status('tap-h-none')$c$, 'ok'),
    ('unified.transaction_status(text)', 'tap_h_claude', $c$SELECT * FROM unified.transaction_status(repeat('t', 129))$c$, '22001'),
    ('unified.transaction_status(text)', 'tap_h_claude', 'SELECT * FROM unified.transaction_status(42)', '42883'),
    ('unified.in_doubt_internal()', 'tap_h_claude', 'SELECT * FROM unified.in_doubt_internal()', '42501'),
    ('unified.in_doubt_internal()', 'tap_h_admin', 'SELECT * FROM unified.in_doubt_internal()', 'ok'),
    ('unified.in_doubt_internal()', 'tap_h_admin', 'SELECT * FROM unified.in_doubt_internal(1)', '42883'),
    -- Operations: hostile JSON.  Nothing may be written by any of these.
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', 'SELECT * FROM unified.upsert_chunks(NULL)', '22004'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[]')$c$, 'ok'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('{}')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('"x"')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[1, null]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x"}]]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h"}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": 9, "project_id": "proj-h", "content": "x"}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "start_line": "1"}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "end_line": 99999999999}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "id": 1}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "migration_id": 1}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "metadata": []}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "embedding": [1, "NaN"]}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "embedding": [1, "Infinity"]}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "embedding": [1, 1e39]}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "embedding": [[1, 2], [3, 4]]}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "embedding": [1, null]}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x", "embedding": {"0": 1}}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks((SELECT pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('source', 'claude_context', 'source_id', 'tap-h-big', 'project_id', 'proj-h', 'content', 'c', 'embedding', (SELECT pg_catalog.jsonb_agg(0.5) FROM generate_series(1, 16001))))))$c$, '54000'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x"}, {"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "y"}]')$c$, '21000'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x"}, {"source": "claude_context", "source_id": "tap-h9b", "project_id": "proj-h", "content": "y", "created_at": "yesterday-ish"}]')$c$, '22007'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x"}, {"source": "unified", "source_id": "tap-h9b", "project_id": "proj-h", "content": "y"}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "cognee", "source_id": "tap-h9", "cognee_dataset_id": "00000000-0000-0000-0000-0000000000a1", "content": "x"}]')$c$, '42501'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "cognee", "source_id": "tap-h9", "cognee_dataset_id": "not-a-uuid", "content": "x"}]')$c$, '22023'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x"}, {"source": "claude_context", "source_id": "tap-h2", "project_id": "proj-h", "content": "y", "source_collection": ""}, {"source": "cognee", "source_id": "tap-h2", "cognee_dataset_id": "00000000-0000-0000-0000-0000000000a1", "content": "z"}]')$c$, '42501'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_admin', $c$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "x"}, {"source": "claude_context", "source_id": "tap-h9", "project_id": "proj-h", "content": "y"}]')$c$, '21000'),
    ('unified.upsert_chunks(jsonb)', 'tap_h_claude', 'SELECT * FROM unified.upsert_chunks(42)', '42883'),
    ('unified.upsert_chunks(jsonb,text[])', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[]', ARRAY['belongs_to_set'])$c$, 'ok'),
    ('unified.upsert_chunks(jsonb,text[])', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('{}', ARRAY['belongs_to_set'])$c$, '22023'),
    ('unified.upsert_chunks(jsonb,text[])', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks('[]', 'belongs_to_set')$c$, '22P02'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse('[]')$c$, 'ok'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', 'SELECT unified.upsert_chunks_parse(NULL)', '22004'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse('[{"source": "x"}]')$c$, '22023'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "a", "project_id": "p", "content": "x", "embedding": "[1, 2"}]')$c$, '22023'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "a", "project_id": "p", "content": "x", "embedding": "[1, nan]"}]')$c$, '22023'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "a", "project_id": "p", "content": "x", "embedding": "{1,inf}"}]')$c$, '22023'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "a", "project_id": "p", "content": "x", "embedding": "[1e39]"}]')$c$, '22023'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "a", "project_id": "p", "content": "x", "embedding": "[1,2] x"}]')$c$, '22023'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "a", "project_id": "p", "content": "x", "embedding": "[1,,2]"}]')$c$, '22023'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "a", "project_id": "p", "content": "x", "created_at": "2024-13-45"}]')$c$, '22008'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse(pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('source', 'claude_context', 'source_id', 'a', 'project_id', 'p', 'content', 'x', 'embedding', '[' || (SELECT string_agg('1', ',') FROM generate_series(1, 16001)) || ']')))$c$, '54000'),
    ('unified.upsert_chunks_parse(jsonb)', 'tap_h_claude', $c$SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "a", "project_id": "p", "content": "x"}, {"source": "claude_context", "source_id": "a", "project_id": "q", "content": "x"}]')$c$, '21000'),
    -- The internals give no more rights than the caller has.
    ('unified.upsert_chunks_apply(unified.chunk_input[],text[])', 'tap_h_claude', 'SELECT * FROM unified.upsert_chunks_apply(NULL, NULL)', 'ok'),
    ('unified.upsert_chunks_apply(unified.chunk_input[],text[])', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks_apply(ARRAY[ROW(1, '{}', 'claude_context', '', 'tap-h9', 'proj-other', NULL, 'x', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::unified.chunk_input], NULL)$c$, '42501'),
    ('unified.upsert_chunks_apply(unified.chunk_input[],text[])', 'tap_h_claude', $c$SELECT * FROM unified.upsert_chunks_apply(ARRAY[ROW(1, '{}', 'claude_context', '', 'tap-h9', 'proj-h', '00000000-0000-0000-0000-0000000000a1', 'x', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::unified.chunk_input], NULL)$c$, '42501'),
    ('unified.metadata_merge(jsonb,jsonb,text[])', 'tap_h_claude', $c$SELECT unified.metadata_merge('{"a": [1]}', '{"a": 2}', ARRAY['a', NULL])$c$, 'ok'),
    ('unified.metadata_merge(jsonb,jsonb,text[])', 'tap_h_claude', $c$SELECT unified.metadata_merge('{}', '{}', 'a')$c$, '22P02'),
    ('unified.embedding_from_jsonb(jsonb,integer)', 'tap_h_claude', $c$SELECT unified.embedding_from_jsonb('[1, 2.5, -3e-3]', 1)$c$, 'ok'),
    ('unified.embedding_from_jsonb(jsonb,integer)', 'tap_h_claude', $c$SELECT unified.embedding_from_jsonb('null', 1)$c$, 'ok'),
    ('unified.embedding_from_jsonb(jsonb,integer)', 'tap_h_claude', $c$SELECT unified.embedding_from_jsonb('[1, "a"]', 1)$c$, '22023'),
    ('unified.embedding_from_jsonb(jsonb,integer)', 'tap_h_claude', $c$SELECT unified.embedding_from_jsonb('[1, true]', 1)$c$, '22023'),
    ('unified.embedding_from_jsonb(jsonb,integer)', 'tap_h_claude', $c$SELECT unified.embedding_from_jsonb('{"a": 1}', 1)$c$, '22023'),
    ('unified.embedding_from_jsonb(jsonb,integer)', 'tap_h_claude', $c$SELECT unified.embedding_from_jsonb('3', 1)$c$, '22023'),
    ('unified.embedding_from_jsonb(jsonb,integer)', 'tap_h_claude', $c$SELECT unified.embedding_from_jsonb('[-1e39]', 1)$c$, '22023'),
    ('unified.embedding_from_jsonb(jsonb,integer)', 'tap_h_claude', $c$SELECT unified.embedding_from_jsonb((SELECT pg_catalog.jsonb_agg(1) FROM generate_series(1, 16001)), 1)$c$, '54000'),
    ('unified.cosine_distance(real[],real[])', 'tap_h_claude', $c$SELECT unified.cosine_distance('{1,0}', '{0,1}')$c$, 'ok'),
    ('unified.cosine_distance(real[],real[])', 'tap_h_claude', $c$SELECT unified.cosine_distance('{0,0}', '{0,1}')$c$, 'ok'),
    ('unified.cosine_distance(real[],real[])', 'tap_h_claude', $c$SELECT unified.cosine_distance('{1,2}', '{1,2,3}')$c$, '22000'),
    ('unified.cosine_distance(real[],real[])', 'tap_h_claude', $c$SELECT unified.cosine_distance('{{1,2},{3,4}}', '{1,2,3,4}')$c$, '2202E'),
    ('unified.cosine_distance(real[],real[])', 'tap_h_claude', $c$SELECT unified.cosine_distance('{1,NULL}', '{1,2}')$c$, '22004'),
    ('unified.cosine_distance(real[],real[])', 'tap_h_claude', $c$SELECT unified.cosine_distance('{a}', '{1}')$c$, '22P02'),
    ('unified.cosine_distance(real[],real[])', 'tap_h_claude', $c$SELECT unified.cosine_distance('{1}', '{1}', '{1}')$c$, '42883'),
    ('unified.delete_chunks(text,text,text[])', 'tap_h_claude', 'SELECT unified.delete_chunks(NULL, NULL, NULL)', '22004'),
    ('unified.delete_chunks(text,text,text[])', 'tap_h_claude', $c$SELECT unified.delete_chunks('unified', '', '{x}')$c$, '22023'),
    ('unified.delete_chunks(text,text,text[])', 'tap_h_claude', $c$SELECT unified.delete_chunks('claude_context', '', '{x,NULL}')$c$, '22004'),
    ('unified.delete_chunks(text,text,text[])', 'tap_h_claude', $c$SELECT unified.delete_chunks('cognee', '', '{tap-h2}')$c$, 'ok'),
    ('unified.delete_chunks(text,text,text[])', 'tap_h_claude', $c$SELECT unified.delete_chunks('claude_context', '', 'tap-h1')$c$, '22P02'),
    ('unified.delete_file_chunks(text,text,text)', 'tap_h_claude', 'SELECT unified.delete_file_chunks(NULL, NULL)', '22004'),
    ('unified.delete_file_chunks(text,text,text)', 'tap_h_claude', $c$SELECT unified.delete_file_chunks('proj-h', 'h.py', 'no-such-collection')$c$, 'ok'),
    ('unified.delete_file_chunks(text,text,text)', 'tap_h_claude', $c$SELECT unified.delete_file_chunks('proj-h', 'h.py', 'x', 'y')$c$, '42883'),
    ('unified.search_check(real[],integer,jsonb)', 'tap_h_claude', $c$SELECT unified.search_check('{1,0}', 10, NULL)$c$, 'ok'),
    ('unified.search_check(real[],integer,jsonb)', 'tap_h_claude', $c$SELECT unified.search_check('{0,0}', 10, NULL)$c$, '22023'),
    ('unified.search_where(integer,text,uuid,text,jsonb)', 'tap_h_claude', $c$SELECT unified.search_where(2, 'x''; DROP TABLE unified.chunks; --', NULL, '$1', '{}')$c$, 'ok'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', 'SELECT count(*) FROM unified.search_chunks(NULL)', '22004'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{}')$c$, '22023'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{{1,2},{3,4}}')$c$, '22023'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{1,NULL}')$c$, '22023'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{1,NaN}')$c$, '22023'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{1,-Infinity}')$c$, '22023'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks(ARRAY(SELECT 1::real FROM generate_series(1, 16001)))$c$, '54000'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{1,0}', 0)$c$, '22023'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{1,0}', 10001)$c$, '22023'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{1,0}', NULL)$c$, '22023'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{1,0}', filter => '[1]')$c$, '22023'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{1,0}', cognee_dataset_id => 'x')$c$, '22P02'),
    ('unified.search_chunks(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks('{1,0}', min_score => 2, filter => '{"x": 1}')$c$, 'ok'),
    ('unified.search_chunks_run(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks_run('{1,0}', 1, NULL, NULL, NULL, NULL, NULL)$c$, 'ok'),
    ('unified.search_chunks_exact(real[],integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks_exact('{1,0}', 1, NULL, NULL, NULL, NULL, NULL)$c$, 'ok'),
    ('unified.search_chunks_hnsw(real[],integer,text,uuid,text,jsonb,real,name)', 'tap_h_claude', $c$SELECT count(*) FROM unified.search_chunks_hnsw('{1,0}', 1, NULL, NULL, NULL, NULL, NULL, 'x"; DROP TABLE unified.chunks; --')$c$, '3F000'),
    ('unified.hybrid_search(real[],text,integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.hybrid_search('{1,0}', NULL)$c$, '22004'),
    ('unified.hybrid_search(real[],text,integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.hybrid_search(NULL, 'h1')$c$, '22004'),
    ('unified.hybrid_search(real[],text,integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.hybrid_search('{1,0}', 'h1 & !(x', -1)$c$, '22023'),
    ('unified.hybrid_search(real[],text,integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.hybrid_search('{1,0}', 'h1 & !(x')$c$, 'ok'),
    ('unified.hybrid_search_run(real[],text,integer,text,uuid,text,jsonb,real)', 'tap_h_claude', $c$SELECT count(*) FROM unified.hybrid_search_run('{1,0}', 'h1', 1, NULL, NULL, NULL, NULL, NULL)$c$, 'ok'),
    ('unified.pgvector_schema()', 'tap_h_claude', 'SELECT unified.pgvector_schema()', 'ok'),
    ('unified.vector_index_name(integer)', 'tap_h_claude', 'SELECT unified.vector_index_name(-1)', 'ok'),
    ('unified.vector_index_name(integer)', 'tap_h_claude', $c$SELECT unified.vector_index_name('x')$c$, '22P02'),
    ('unified.enable_vector_index(integer,text)', 'tap_h_claude', 'SELECT unified.enable_vector_index(8)', '42501'),
    ('unified.enable_vector_index(integer,text)', 'tap_h_admin', 'SELECT unified.enable_vector_index(NULL)', '22004'),
    ('unified.enable_vector_index(integer,text)', 'tap_h_admin', 'SELECT unified.enable_vector_index(0)', '22023'),
    ('unified.enable_vector_index(integer,text)', 'tap_h_admin', 'SELECT unified.enable_vector_index(4001)', '22023'),
    ('unified.enable_vector_index(integer,text)', 'tap_h_admin', $c$SELECT unified.enable_vector_index(8, 'l2')$c$, '22023'),
    -- no vector extension in this database: refused with a hint, nothing made
    ('unified.enable_vector_index(integer,text)', 'tap_h_admin', 'SELECT unified.enable_vector_index(8)', '55000'),
    ('unified.disable_vector_index(integer)', 'tap_h_claude', 'SELECT unified.disable_vector_index(16)', '42501'),
    ('unified.disable_vector_index(integer)', 'tap_h_admin', 'SELECT unified.disable_vector_index(NULL)', '22004'),
    ('unified.disable_vector_index(integer)', 'tap_h_admin', 'SELECT unified.disable_vector_index(-1)', 'ok'),
    ('unified.disable_vector_index(integer)', 'tap_h_admin', $c$SELECT unified.disable_vector_index('x')$c$, '22P02'),
    ('unified.vector_index_definition(integer,boolean)', 'tap_h_claude', 'SELECT unified.vector_index_definition(16, true)', '42501'),
    ('unified.vector_index_definition(integer,boolean)', 'tap_h_admin', 'SELECT unified.vector_index_definition(16, false)', '42501'),
    ('unified.vector_index_definition(integer,boolean)', current_user, 'SELECT unified.vector_index_definition(16, NULL)', 'ok'),
    ('unified.chunks_touch_updated_at()', 'tap_h_claude', 'SELECT unified.chunks_touch_updated_at()', '42501'),
    ('unified.chunks_touch_updated_at()', 'tap_h_admin', 'SELECT unified.chunks_touch_updated_at()', '42501'),
    -- Pool statistics: the applications read pool_stats and the histogram;
    -- resetting, the SLOs and the health check are unified_admin's.
    ('unified.pool_stats_internal()', 'tap_h_claude', 'SELECT * FROM unified.pool_stats_internal()', 'ok'),
    ('unified.pool_stats_internal()', 'tap_h_claude', 'SELECT * FROM unified.pool_stats_internal(1)', '42883'),
    ('unified.pool_stats_internal()', 'tap_h_claude', $c$SELECT * FROM unified.pool_stats_internal('cognee')$c$, '42883'),
    ('unified.pool_stats_internal()', 'tap_h_admin', 'SELECT * FROM unified.pool_stats_internal()', 'ok'),
    ('unified.pool_latency_histogram_internal()', 'tap_h_claude', 'SELECT * FROM unified.pool_latency_histogram_internal()', 'ok'),
    ('unified.pool_latency_histogram_internal()', 'tap_h_claude', 'SELECT * FROM unified.pool_latency_histogram_internal(NULL)', '42883'),
    ('unified.stats_overall()', 'tap_h_claude', 'SELECT * FROM unified.stats_overall()', '42501'),
    ('unified.stats_overall()', 'tap_h_admin', 'SELECT * FROM unified.stats_overall()', 'ok'),
    ('unified.stats_overall()', 'tap_h_admin', 'SELECT * FROM unified.stats_overall(true)', '42883'),
    ('unified.reset_stats()', 'tap_h_claude', 'SELECT unified.reset_stats()', '42501'),
    ('unified.reset_stats()', 'tap_h_admin', 'SELECT unified.reset_stats()', 'ok'),
    ('unified.reset_stats()', 'tap_h_admin', $c$SELECT unified.reset_stats('claude-context')$c$, '42883'),
    ('unified.reset_stats()', 'tap_h_admin', 'SELECT unified.reset_stats(NULL)', '42883'),
    ('unified.health_check()', 'tap_h_claude', 'SELECT * FROM unified.health_check()', '42501'),
    ('unified.health_check()', 'tap_h_admin', 'SELECT * FROM unified.health_check()', 'ok'),
    ('unified.health_check()', 'tap_h_admin', $c$SELECT * FROM unified.health_check('preload')$c$, '42883'),
    ('unified.health_preload()', 'tap_h_claude', 'SELECT * FROM unified.health_preload()', '42501'),
    ('unified.health_preload()', 'tap_h_admin', 'SELECT * FROM unified.health_preload()', 'ok'),
    ('unified.health_preload()', 'tap_h_admin', 'SELECT * FROM unified.health_preload(1)', '42883'),
    ('unified.health_resolver()', 'tap_h_claude', 'SELECT * FROM unified.health_resolver()', '42501'),
    ('unified.health_resolver()', 'tap_h_admin', 'SELECT * FROM unified.health_resolver()', 'ok'),
    ('unified.health_resolver()', 'tap_h_admin', 'SELECT * FROM unified.health_resolver(1)', '42883'),
    ('unified.health_in_doubt()', 'tap_h_claude', 'SELECT * FROM unified.health_in_doubt()', '42501'),
    ('unified.health_in_doubt()', 'tap_h_admin', 'SELECT * FROM unified.health_in_doubt()', 'ok'),
    ('unified.health_in_doubt()', 'tap_h_admin', 'SELECT * FROM unified.health_in_doubt(1)', '42883'),
    ('unified.health_prepared_transactions()', 'tap_h_claude', 'SELECT * FROM unified.health_prepared_transactions()', '42501'),
    ('unified.health_prepared_transactions()', 'tap_h_admin', 'SELECT * FROM unified.health_prepared_transactions()', 'ok'),
    ('unified.health_prepared_transactions()', 'tap_h_admin', 'SELECT * FROM unified.health_prepared_transactions(1)', '42883'),
    ('unified.health_partitions_premade()', 'tap_h_claude', 'SELECT * FROM unified.health_partitions_premade()', '42501'),
    ('unified.health_partitions_premade()', 'tap_h_admin', 'SELECT * FROM unified.health_partitions_premade()', 'ok'),
    ('unified.health_partitions_premade()', 'tap_h_admin', 'SELECT * FROM unified.health_partitions_premade(1)', '42883'),
    ('unified.health_maintenance()', 'tap_h_claude', 'SELECT * FROM unified.health_maintenance()', '42501'),
    ('unified.health_maintenance()', 'tap_h_admin', 'SELECT * FROM unified.health_maintenance()', 'ok'),
    ('unified.health_maintenance()', 'tap_h_admin', 'SELECT * FROM unified.health_maintenance(1)', '42883'),
    ('unified.health_default_partition()', 'tap_h_claude', 'SELECT * FROM unified.health_default_partition()', '42501'),
    ('unified.health_default_partition()', 'tap_h_admin', 'SELECT * FROM unified.health_default_partition()', 'ok'),
    ('unified.health_default_partition()', 'tap_h_admin', 'SELECT * FROM unified.health_default_partition(1)', '42883'),
    ('unified.health_prepared_lock_on_chunks()', 'tap_h_claude', 'SELECT * FROM unified.health_prepared_lock_on_chunks()', '42501'),
    ('unified.health_prepared_lock_on_chunks()', 'tap_h_admin', 'SELECT * FROM unified.health_prepared_lock_on_chunks()', 'ok'),
    ('unified.health_prepared_lock_on_chunks()', 'tap_h_admin', 'SELECT * FROM unified.health_prepared_lock_on_chunks(1)', '42883'),
    ('unified.health_pool_headroom()', 'tap_h_claude', 'SELECT * FROM unified.health_pool_headroom()', '42501'),
    ('unified.health_pool_headroom()', 'tap_h_admin', 'SELECT * FROM unified.health_pool_headroom()', 'ok'),
    ('unified.health_pool_headroom()', 'tap_h_admin', 'SELECT * FROM unified.health_pool_headroom(1)', '42883'),
    ('unified.health_slo()', 'tap_h_claude', 'SELECT * FROM unified.health_slo()', '42501'),
    ('unified.health_slo()', 'tap_h_admin', 'SELECT * FROM unified.health_slo()', 'ok'),
    ('unified.health_slo()', 'tap_h_admin', 'SELECT * FROM unified.health_slo(1)', '42883'),
    -- Migration: unified_admin only; arguments checked before anything is
    -- written; internal helpers run with the caller's rights, so crafted
    -- arguments give an administrator nothing it does not have.
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_claude', $c$CALL unified.migrate_claude_chunks('public.code_chunks_4041abcd')$c$, '42501'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin', $c$CALL unified.migrate_claude_chunks('public.code_chunks_4041abcd', batch_size => 0)$c$, '22023'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin', $c$CALL unified.migrate_claude_chunks('public.code_chunks_4041abcd', batch_size => 100001)$c$, '22023'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin', $c$CALL unified.migrate_claude_chunks('public.code_chunks_4041abcd', batch_size => NULL)$c$, '22023'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin', $c$CALL unified.migrate_claude_chunks('unified.partitions')$c$, '42809'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin', $c$CALL unified.migrate_claude_chunks('unified.chunks')$c$, '42703'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin', $c$CALL unified.migrate_claude_chunks('pg_catalog.pg_authid')$c$, '42703'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin', $c$CALL unified.migrate_claude_chunks(4294967295::oid::regclass)$c$, '42P01'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin', $c$CALL unified.migrate_claude_chunks(42)$c$, '42P01'),
    ('unified.migrate_claude_chunks(regclass,text,integer)', 'tap_h_admin', $c$SELECT unified.migrate_claude_chunks('public.code_chunks_4041abcd')$c$, '42809'),
    ('unified.migrate_cognee_data(regclass,uuid,integer)', 'tap_h_claude', $c$CALL unified.migrate_cognee_data('public.code_chunks_4041abcd')$c$, '42501'),
    ('unified.migrate_cognee_data(regclass,uuid,integer)', 'tap_h_admin', $c$CALL unified.migrate_cognee_data('public.code_chunks_4041abcd')$c$, '42703'),
    ('unified.migrate_cognee_data(regclass,uuid,integer)', 'tap_h_admin', $c$CALL unified.migrate_cognee_data('public.code_chunks_4041abcd', batch_size => -1)$c$, '22023'),
    ('unified.migrate_to_unified()', 'tap_h_claude', 'CALL unified.migrate_to_unified()', '42501'),
    ('unified.migrate_to_unified()', 'tap_h_admin', 'CALL unified.migrate_to_unified()', 'ok'),
    ('unified.migrate_to_unified()', 'tap_h_admin', 'CALL unified.migrate_to_unified(1)', '42883'),
    ('unified.migration_run(text,regclass,text,uuid,integer)', 'tap_h_claude', $c$CALL unified.migration_run('cognee', 'public.code_chunks_4041abcd', NULL, NULL, 10)$c$, '42501'),
    ('unified.migration_run(text,regclass,text,uuid,integer)', 'tap_h_admin', $c$CALL unified.migration_run('other', 'public.code_chunks_4041abcd', NULL, NULL, 10)$c$, '22023'),
    ('unified.migration_run(text,regclass,text,uuid,integer)', 'tap_h_admin', $c$CALL unified.migration_run(NULL, 'public.code_chunks_4041abcd', NULL, NULL, 10)$c$, '22023'),
    ('unified.rollback_migration(bigint,integer)', 'tap_h_claude', 'CALL unified.rollback_migration(1)', '42501'),
    ('unified.rollback_migration(bigint,integer)', 'tap_h_admin', 'CALL unified.rollback_migration(-1)', '22023'),
    ('unified.rollback_migration(bigint,integer)', 'tap_h_admin', 'CALL unified.rollback_migration(NULL)', '22023'),
    ('unified.rollback_migration(bigint,integer)', 'tap_h_admin', 'CALL unified.rollback_migration(1, 0)', '22023'),
    ('unified.rollback_migration(bigint,integer)', 'tap_h_admin', $c$CALL unified.rollback_migration('x')$c$, '22P02'),
    ('unified.verify_migration(bigint)', 'tap_h_claude', 'SELECT * FROM unified.verify_migration(1)', '42501'),
    ('unified.verify_migration(bigint)', 'tap_h_admin', 'SELECT * FROM unified.verify_migration(-1)', '22023'),
    ('unified.verify_migration(bigint)', 'tap_h_admin', 'SELECT * FROM unified.verify_migration(NULL)', '22023'),
    ('unified.verify_migration(bigint)', 'tap_h_admin', 'SELECT * FROM unified.verify_migration(9223372036854775808)', '42883'),
    ('unified.migration_vector_problem(real[],integer)', 'tap_h_claude', $c$SELECT unified.migration_vector_problem('{1}', 1)$c$, '42501'),
    ('unified.migration_vector_problem(real[],integer)', 'tap_h_admin', $c$SELECT unified.migration_vector_problem('{1,NaN,Infinity}', NULL)$c$, 'ok'),
    ('unified.migration_vector_problem(real[],integer)', 'tap_h_admin', $c$SELECT unified.migration_vector_problem('{{1},{2}}', -1)$c$, 'ok'),
    ('unified.migration_vector_problem(real[],integer)', 'tap_h_admin', $c$SELECT unified.migration_vector_problem('{}', 0)$c$, 'ok'),
    ('unified.migration_vector_problem(real[],integer)', 'tap_h_admin', $c$SELECT unified.migration_vector_problem(array_fill(1::real, ARRAY[20000]), NULL)$c$, 'ok'),
    ('unified.migration_vector_problem(real[],integer)', 'tap_h_admin', $c$SELECT unified.migration_vector_problem('[5:6]={1,2}', 2)$c$, 'ok'),
    ('unified.migration_text_vector(text)', 'tap_h_claude', $c$SELECT unified.migration_text_vector('[1]')$c$, '42501'),
    ('unified.migration_text_vector(text)', 'tap_h_admin', $c$SELECT unified.migration_text_vector('[' || repeat('1,', 20000) || '1]')$c$, 'ok'),
    ('unified.migration_text_vector(text)', 'tap_h_admin', $c$SELECT unified.migration_text_vector('[1e99999, -nan, 0x1p3]')$c$, 'ok'),
    ('unified.migration_json_valid(text)', 'tap_h_claude', $c$SELECT unified.migration_json_valid('{}')$c$, '42501'),
    ('unified.migration_json_valid(text)', 'tap_h_admin', $c$SELECT unified.migration_json_valid(repeat('[', 100000))$c$, '54001'),
    ('unified.migration_detoast(real[])', 'tap_h_claude', $c$SELECT unified.migration_detoast('{1}')$c$, '42501'),
    ('unified.migration_detoast(real[])', 'tap_h_admin', $c$SELECT unified.migration_detoast(NULL)$c$, 'ok'),
    ('unified.migration_row_hash(text,bytea)', 'tap_h_claude', $c$SELECT unified.migration_row_hash('a', 'b')$c$, '42501'),
    ('unified.migration_dataset_from_name(text)', 'tap_h_claude', $c$SELECT unified.migration_dataset_from_name('x')$c$, '42501'),
    ('unified.migration_ms_timestamp(text)', 'tap_h_claude', $c$SELECT unified.migration_ms_timestamp('1')$c$, '42501'),
    ('unified.migration_ms_timestamp(text)', 'tap_h_admin', $c$SELECT unified.migration_ms_timestamp('999999999999999.999999')$c$, 'ok'),
    ('unified.migration_backend_busy(integer,timestamp with time zone)', 'tap_h_claude', 'SELECT unified.migration_backend_busy(pg_backend_pid(), now())', '42501'),
    ('unified.migration_backend_busy(integer,timestamp with time zone)', 'tap_h_admin', 'SELECT unified.migration_backend_busy(pg_backend_pid(), now())', 'ok'),
    ('unified.migration_backend_busy(integer,timestamp with time zone)', 'tap_h_admin', 'SELECT unified.migration_backend_busy(NULL, NULL)', 'ok'),
    ('unified.migration_stored_keys(text,text,text[])', 'tap_h_admin', $c$SELECT unified.migration_stored_keys(NULL, NULL, NULL)$c$, 'ok'),
    ('unified.migration_backend_start()', 'tap_h_claude', 'SELECT unified.migration_backend_start()', '42501'),
    ('unified.migration_backend_start()', 'tap_h_admin', 'SELECT unified.migration_backend_start()', 'ok'),
    ('unified.migration_backend_start()', 'tap_h_admin', 'SELECT unified.migration_backend_start(1)', '42883'),
    ('unified.migration_source_info(text,regclass)', 'tap_h_claude', $c$SELECT unified.migration_source_info('cognee', 'public.code_chunks_4041abcd')$c$, '42501'),
    ('unified.migration_source_info(text,regclass)', 'tap_h_admin', $c$SELECT unified.migration_source_info('claude_context', 'public.code_chunks_4041abcd')$c$, 'ok'),
    ('unified.migration_source_info(text,regclass)', 'tap_h_admin', $c$SELECT unified.migration_source_info('claude_context', 'unified.chunk_keys')$c$, '42703'),
    ('unified.migration_source_info(text,regclass)', 'tap_h_admin', $c$SELECT unified.migration_source_info('claude_context', NULL)$c$, '22004'),
    ('unified.migration_exprs(jsonb)', 'tap_h_claude', $c$SELECT unified.migration_exprs('{}')$c$, '42501'),
    ('unified.migration_exprs(jsonb)', 'tap_h_admin', $c$SELECT unified.migration_exprs('{"kind": "x; DROP TABLE unified.chunks"}')$c$, 'ok'),
    ('unified.migration_batch_sql(jsonb,text)', 'tap_h_claude', $c$SELECT unified.migration_batch_sql('{}', 'true')$c$, '42501'),
    ('unified.migration_batch_sql(jsonb,text)', 'tap_h_admin', $c$SELECT unified.migration_batch_sql('{}', NULL)$c$, 'ok'),
    ('unified.migration_range_sql(jsonb,text)', 'tap_h_claude', $c$SELECT unified.migration_range_sql('{}', 'a')$c$, '42501'),
    ('unified.migration_range_sql(jsonb,text)', 'tap_h_admin', $c$SELECT unified.migration_range_sql(NULL, NULL)$c$, 'ok'),
    ('unified.migration_lock_source(unified.migrations)', 'tap_h_claude', 'SELECT unified.migration_lock_source(NULL)', '42501'),
    ('unified.migration_lock_source(unified.migrations)', 'tap_h_admin', 'SELECT unified.migration_lock_source(NULL)', '42P01'),
    ('unified.migration_begin(text,regclass,text,uuid,integer)', 'tap_h_claude', $c$SELECT unified.migration_begin('claude_context', 'public.code_chunks_4041abcd', NULL, NULL, 10)$c$, '42501'),
    ('unified.migration_begin(text,regclass,text,uuid,integer)', 'tap_h_admin', $c$SELECT unified.migration_begin('claude_context', 'public.code_chunks_4041abcd', NULL, NULL, 0)$c$, '22023'),
    ('unified.migration_begin(text,regclass,text,uuid,integer)', 'tap_h_admin', $c$SELECT unified.migration_begin('bogus', 'public.code_chunks_4041abcd', NULL, NULL, 10)$c$, '22023'),
    ('unified.migration_mine(bigint)', 'tap_h_claude', 'SELECT unified.migration_mine(1)', '42501'),
    ('unified.migration_mine(bigint)', 'tap_h_admin', 'SELECT unified.migration_mine(-1)', '22023'),
    ('unified.migration_next_range(unified.migrations,jsonb)', 'tap_h_claude', 'SELECT unified.migration_next_range(NULL, NULL)', '42501'),
    ('unified.migration_next_range(unified.migrations,jsonb)', 'tap_h_admin', 'SELECT unified.migration_next_range(NULL, NULL)', '42601'),
    ('unified.migration_next_months(bigint)', 'tap_h_claude', 'SELECT unified.migration_next_months(1)', '42501'),
    ('unified.migration_next_months(bigint)', 'tap_h_admin', 'SELECT unified.migration_next_months(-1)', '22023'),
    ('unified.migration_create_partitions(date[])', 'tap_h_claude', $c$SELECT unified.migration_create_partitions('{2044-01-01}')$c$, '42501'),
    ('unified.migration_create_partitions(date[])', 'tap_h_admin', 'SELECT unified.migration_create_partitions(NULL)', 'ok'),
    ('unified.migration_create_partitions(date[])', 'tap_h_admin', $c$SELECT unified.migration_create_partitions('{x}')$c$, '22007'),
    ('unified.migration_raw(jsonb,text)', 'tap_h_claude', 'SELECT unified.migration_raw(NULL, NULL)', '42501'),
    ('unified.migration_raw(jsonb,text)', 'tap_h_admin', 'SELECT unified.migration_raw(NULL, NULL)', '42P01'),
    ('unified.migration_reject(unified.migrations,jsonb,jsonb)', 'tap_h_claude', 'SELECT unified.migration_reject(NULL, NULL, NULL)', '42501'),
    ('unified.migration_reject(unified.migrations,jsonb,jsonb)', 'tap_h_admin', 'SELECT unified.migration_reject(NULL, NULL, NULL)', 'ok'),
    ('unified.migration_one_key(unified.migrations,jsonb,text)', 'tap_h_claude', 'SELECT unified.migration_one_key(NULL, NULL, NULL)', '42501'),
    ('unified.migration_one_key(unified.migrations,jsonb,text)', 'tap_h_admin', 'SELECT unified.migration_one_key(NULL, NULL, NULL)', '42601'),
    ('unified.migration_dimension(jsonb)', 'tap_h_claude', $c$SELECT unified.migration_dimension('{}')$c$, '42501'),
    ('unified.migration_dimension(jsonb)', 'tap_h_admin', $c$SELECT unified.migration_dimension('{}')$c$, '42P01'),
    ('unified.migration_message(unified.migrations)', 'tap_h_claude', 'SELECT unified.migration_message(NULL)', '42501'),
    ('unified.migration_message(unified.migrations)', 'tap_h_admin', 'SELECT unified.migration_message(NULL)', 'ok'),
    ('unified.migration_finish(unified.migrations,jsonb)', 'tap_h_claude', 'SELECT unified.migration_finish(NULL, NULL)', '42501'),
    ('unified.migration_finish(unified.migrations,jsonb)', 'tap_h_admin', 'SELECT unified.migration_finish(NULL, NULL)', '42P01'),
    ('unified.migration_batch(bigint)', 'tap_h_claude', 'SELECT unified.migration_batch(1)', '42501'),
    ('unified.migration_batch(bigint)', 'tap_h_admin', 'SELECT unified.migration_batch(-1)', '22023'),
    ('unified.migration_rollback_begin(bigint,integer)', 'tap_h_claude', 'SELECT unified.migration_rollback_begin(1, 10)', '42501'),
    ('unified.migration_rollback_begin(bigint,integer)', 'tap_h_admin', 'SELECT unified.migration_rollback_begin(-1, 10)', '22023'),
    ('unified.migration_rollback_batch(bigint,integer)', 'tap_h_claude', 'SELECT unified.migration_rollback_batch(1, 10)', '42501'),
    ('unified.migration_rollback_batch(bigint,integer)', 'tap_h_admin', 'SELECT unified.migration_rollback_batch(-1, 10)', '22023'),
    ('unified.migration_source_problem(text,regclass)', 'tap_h_claude', $c$SELECT unified.migration_source_problem('cognee', 'pg_class')$c$, '42501'),
    ('unified.migration_last_run(regclass)', 'tap_h_claude', $c$SELECT unified.migration_last_run('pg_class')$c$, '42501'),
    ('unified.migration_last_run(regclass)', 'tap_h_admin', $c$SELECT unified.migration_last_run('pg_class')$c$, 'ok'),
    ('unified.migration_source_verified(integer,bigint)', 'tap_h_claude', 'SELECT unified.migration_source_verified(1, 1)', '42501'),
    ('unified.migration_source_verified(integer,bigint)', 'tap_h_admin', 'SELECT unified.migration_source_verified(-1, -1)', '22023'),
    ('unified.migration_source_failed(integer,text)', 'tap_h_claude', $c$SELECT unified.migration_source_failed(1, 'x')$c$, '42501');

INSERT INTO cases
SELECT t.fn, t.role, format(t.template, p.expr), coalesce(t.overrides ->> p.label, t.expect)
  FROM templates t CROSS JOIN payloads p;

-- Run one call as a role; return its SQLSTATE or 'ok'.
CREATE FUNCTION pg_temp.outcome(r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text := 'ok';
BEGIN
    EXECUTE format('SET ROLE %I', r);
    BEGIN
        EXECUTE q;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
    END;
    RESET ROLE;
    RETURN state;
END $$;

-- Everything that must not change: every table of the schema (partitions
-- through their parent), the schema's relations and functions, roles,
-- policies and privileges on the schema's objects.
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
    h text;
    acc text := '';
BEGIN
    FOR t IN SELECT c.oid FROM pg_class c
              WHERE c.relnamespace = 'unified'::regnamespace AND c.relkind IN ('r', 'p')
                AND NOT c.relispartition
              ORDER BY c.relname
    LOOP
        EXECUTE format('SELECT md5(coalesce(string_agg(x::text, %L ORDER BY x::text), %L)) FROM %s AS x', E'\n', '', t)
           INTO h;
        acc := acc || t::text || '=' || h || ';';
    END LOOP;
    acc := acc || (SELECT string_agg(c.relname || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, ''), ',' ORDER BY c.relname)
                     FROM pg_class c WHERE c.relnamespace = 'unified'::regnamespace);
    acc := acc || (SELECT string_agg(p.oid::regprocedure::text || ':' || coalesce(p.proacl::text, '') || ':' || md5(p.prosrc), ','
                                     ORDER BY p.oid::regprocedure::text)
                     FROM pg_proc p WHERE p.pronamespace = 'unified'::regnamespace);
    acc := acc || (SELECT string_agg(r.rolname || ':' || r.rolsuper::text || r.rolcanlogin::text || r.rolbypassrls::text, ',' ORDER BY r.rolname)
                     FROM pg_roles r);
    acc := acc || (SELECT string_agg(pol.polname || ':' || md5(coalesce(pg_get_expr(pol.polqual, pol.polrelid), '')
                                     || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '')), ',' ORDER BY pol.polname)
                     FROM pg_policy pol);
    acc := acc || (SELECT string_agg(m.roleid::regrole::text || '>' || m.member::regrole::text, ',' ORDER BY 1)
                     FROM pg_auth_members m);
    RETURN md5(acc);
END $$;

CREATE TEMP TABLE before AS SELECT pg_temp.state() AS state;

SELECT plan((SELECT count(*)::int FROM cases) + 5);

-- Coverage: every function and procedure of the extension has cases.
SELECT is_empty($$
    SELECT p.oid::regprocedure::text
      FROM pg_proc p
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
      JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'unified_pg'
    EXCEPT
    SELECT fn FROM pg_temp.cases$$,
    'every function and procedure of the extension has hostile-input cases');
SELECT is_empty($$
    SELECT fn FROM pg_temp.cases
    EXCEPT
    SELECT p.oid::regprocedure::text
      FROM pg_proc p
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
      JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'unified_pg'$$,
    'every case names a function of the extension');
SELECT ok((SELECT count(DISTINCT fn) >= 10 FROM cases), 'the cases cover the functions found');

-- The calls.
SELECT is(pg_temp.outcome(role, call), expect,
          format('%s as %s: %s', fn, role, left(regexp_replace(call, '[^[:print:]]', '?', 'g'), 90)))
  FROM cases
 ORDER BY fn, role, call;

SELECT is(pg_temp.state(), (SELECT state FROM before), 'nothing changed: tables, relations, functions, roles, policies');
SELECT is((SELECT string_agg(source_id || '=' || content, ',' ORDER BY source_id) FROM unified.chunks WHERE source_id LIKE 'tap-h%'),
          'tap-h1=h1,tap-h2=h2,tap-h3=h3', 'the chunks are intact');

SELECT * FROM finish();
ROLLBACK;
