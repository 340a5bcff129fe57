-- upsert_chunks has two forms of its batch: jsonb, and the batch's JSON
-- text (read by src/upsert_text.c without making a jsonb).  They must be
-- one behaviour: every case below runs through both, with explicit ::text
-- and ::jsonb casts, and must give the same outcome -- the same counts and
-- stored rows, or the same SQLSTATE, message and detail -- and the same
-- parsed batch from upsert_chunks_parse.  Then: which form PostgreSQL
-- picks for each way of calling (a literal or an untyped parameter is the
-- text form), and that no call is ambiguous.
BEGIN;
SET LOCAL client_min_messages = warning;

CREATE ROLE tap_t_claude LOGIN IN ROLE claude_user;
CREATE ROLE tap_t_cognee LOGIN IN ROLE cognee_user;

-- stored rows that the cases update
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, relative_path, start_line,
                            embedding, metadata)
VALUES ('claude_context', 'tt', 'tt-old', 'proj-t', 'old', 'old.py', 7, '{1,2,3}', '{"k": 1}');
INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content, metadata)
VALUES ('cognee', 'tt', 'tt-mem', '00000000-0000-0000-0000-0000000000d1', 'memory',
        '{"type": "DocumentChunk", "belongs_to_set": ["people"]}');
SELECT unified.grant_project('tap_t_claude', 'proj-t') AS setup;
SELECT unified.grant_dataset('tap_t_cognee', '00000000-0000-0000-0000-0000000000d1') AS setup;

-- One case: the batch's JSON text, optional
-- metadata_union, and the role that calls.
CREATE TEMP TABLE cases (n serial, label text NOT NULL, batch text NOT NULL,
                         mu text[], role text NOT NULL DEFAULT 'tap_t_claude');
CREATE FUNCTION pg_temp.c(p_source_id text, extra text) RETURNS text LANGUAGE sql AS $$
    SELECT '{"source": "claude_context", "source_collection": "tt", "source_id": "' || p_source_id
           || '", "project_id": "proj-t", "content": "c ' || p_source_id || '"' || extra || '}'
$$;
CREATE FUNCTION pg_temp.b(elements text) RETURNS text LANGUAGE sql AS $$
    SELECT '[' || elements || ']'
$$;
INSERT INTO cases (label, batch) VALUES
    -- normal batches
    ('two chunks, every key', pg_temp.b(pg_temp.c('tt-1', ', "relative_path": "a.py", "start_line": 1, "end_line": 30, "file_extension": ".py", "chunk_index": 0, "embedding": [0.1, -0.25, 3e-7], "embedding_model": "m", "metadata": {"language": "python", "n": 1.50}, "created_at": "2026-01-15 10:00:00+00", "updated_at": "2026-01-15 11:00:00+00"') || ', ' || pg_temp.c('tt-2', ', "embedding": [1, 2, 3]'))),
    ('embedding as a string', pg_temp.b(pg_temp.c('tt-3', ', "embedding": "[0.5, -1.5e-3, 2]"'))),
    ('embedding in real[] text form', pg_temp.b(pg_temp.c('tt-3', ', "embedding": "{0.5,-1.5e-3,2}"'))),
    ('update keeps what is not named', pg_temp.b(pg_temp.c('tt-old', ', "relative_path": null'))),
    ('update with a new embedding', pg_temp.b(pg_temp.c('tt-old', ', "embedding": [3, 2, 1]'))),
    ('empty batch', ('[]')),
    ('white space around', (E' \n\t[ ] \n')),
    ('empty embedding', pg_temp.b(pg_temp.c('tt-4', ', "embedding": []'))),
    ('null embedding', pg_temp.b(pg_temp.c('tt-4', ', "embedding": null'))),
    ('a duplicated key keeps its last value', pg_temp.b(pg_temp.c('tt-5', ', "content": "first", "content": "last", "start_line": "x", "start_line": 5'))),
    ('a bad embedding replaced by a good one', pg_temp.b(pg_temp.c('tt-5', ', "embedding": [1, "x", 1e39], "embedding": [4, 5]'))),
    ('a good embedding replaced by a bad one', pg_temp.b(pg_temp.c('tt-5', ', "embedding": [4, 5], "embedding": [1, "x"]'))),
    ('an embedding array replaced by a string', pg_temp.b(pg_temp.c('tt-5', ', "embedding": [4, 5], "embedding": "[6, 7]"'))),
    ('a string replaced by an array', pg_temp.b(pg_temp.c('tt-5', ', "embedding": "[6, 7]", "embedding": [8]'))),
    ('escaped key names', ('[{"sou\u0072ce": "claude_context", "source_collection": "tt", "source_id": "tt-6", "project_id": "proj-t", "\u0063ontent": "esc"}]')),
    ('unicode and escapes in strings', pg_temp.b(pg_temp.c('tt-7', ', "relative_path": "d\u00e9j\u00e0/\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t.py", "file_extension": "проект-数据-😀"'))),
    ('numbers of every shape', pg_temp.b(pg_temp.c('tt-8', ', "embedding": [0, -0, -0.0, 0e5, -0E-5, 1e-50, -1e-50, 1e-45, -1e-45, 7e-46, 7.1e-46, 0.1e+0000000000000000001, 1E5, 1e+2, 3.4028235e38, -3.4028235677973366e38, 16777217, 16777219, 1.0000000596046447753906250001, 1.000000059604644775390625, 123456789012345678901234567890, 0.012345678918766975, -0.0012345678901234567, 9007199254740993, 0.000000000000000000000000000000000000011754943508222875, 1.4e-45, 2.8e-45, 1.1754942e-38]'))),
    ('a number with 300 digits', pg_temp.b(pg_temp.c('tt-8', ', "embedding": [0.' || repeat('3', 300) || ', ' || repeat('7', 30) || '.5]'))),
    ('integers in other shapes', pg_temp.b(pg_temp.c('tt-9', ', "start_line": 1e2, "end_line": -0, "chunk_index": 2147483647'))),
    ('metadata: duplicated keys, numbers, nesting', pg_temp.b(pg_temp.c('tt-10', ', "metadata": {"b": 1, "a": [1, 2.50, {"x": null}], "b": {"c": true}, "e": "\u00e9"}'))),
    ('metadata nested 1,000 deep', pg_temp.b(pg_temp.c('tt-11', ', "metadata": {"d": ' || repeat('[', 1000) || repeat(']', 1000) || '}'))),
    ('a content of 1 MB', pg_temp.b(pg_temp.c('tt-12', ', "relative_path": "' || repeat('x', 1000000) || '"'))),
    ('16,000 dimensions', pg_temp.b(pg_temp.c('tt-13', ', "embedding": [' || (SELECT string_agg((i % 7)::text || '.25', ',') FROM generate_series(1, 16000) i) || ']'))),
    ('500 chunks', pg_temp.b((SELECT string_agg(pg_temp.c('tt-many-' || i, ', "embedding": [' || i || ', 0.5]'), ',') FROM generate_series(1, 500) i))),
    ('unknown keys of chunks after the first bad one', pg_temp.b(pg_temp.c('tt-14', ', "id": 1') || ', ' || pg_temp.c('tt-15', ', "zz": 2'))),
    -- not JSON
    ('empty text', ('')),
    ('blank text', ('   ')),
    ('an open bracket', ('[')),
    ('a trailing comma', ('[1,]')),
    ('garbage after the array', ('[] x')),
    ('a key without a value', ('[{"source":}]')),
    ('NaN as a bare word', pg_temp.b(pg_temp.c('tt-20', ', "embedding": [1, NaN]'))),
    ('Infinity as a bare word', pg_temp.b(pg_temp.c('tt-20', ', "embedding": [Infinity]'))),
    ('a syntax error after a bad chunk', ('[{"id": 1}, {"source": ]')),
    ('a syntax error after a bad embedding', pg_temp.b(pg_temp.c('tt-20', ', "embedding": [1e39]')) || ','),
    ('\u0000 in a string', pg_temp.b(pg_temp.c('tt-20', ', "relative_path": "a\u0000b"'))),
    ('\u0000 in a key', ('[{"a\u0000": 1}]')),
    ('\u0000 deep in metadata', pg_temp.b(pg_temp.c('tt-20', ', "metadata": {"a": [{"b": "\u0000"}]}'))),
    ('\u0000 in an unknown key''s value', pg_temp.b(pg_temp.c('tt-20', ', "zz": ["\u0000"]'))),
    ('a lone high surrogate', pg_temp.b(pg_temp.c('tt-20', ', "relative_path": "\ud800"'))),
    ('a lone low surrogate', pg_temp.b(pg_temp.c('tt-20', ', "relative_path": "\udc00x"'))),
    ('a bad escape', pg_temp.b(pg_temp.c('tt-20', ', "relative_path": "\x41"'))),
    ('a short unicode escape', pg_temp.b(pg_temp.c('tt-20', ', "relative_path": "\u12"'))),
    ('a raw control character', pg_temp.b(pg_temp.c('tt-20', ', "relative_path": "a' || chr(1) || '"'))),
    ('nesting 100,000 deep', (repeat('[', 100000) || repeat(']', 100000))),
    ('metadata nested 100,000 deep', pg_temp.b(pg_temp.c('tt-20', ', "metadata": {"d": ' || repeat('[', 100000) || repeat(']', 100000) || '}'))),
    -- numbers numeric cannot hold: refused while parsing, wherever they are
    ('an exponent beyond numeric', pg_temp.b(pg_temp.c('tt-21', ', "embedding": [1e999999999]'))),
    ('a negative exponent beyond numeric', pg_temp.b(pg_temp.c('tt-21', ', "embedding": [1e-999999999]'))),
    ('a huge exponent in an unknown key', pg_temp.b(pg_temp.c('tt-21', ', "zz": 1e999999999'))),
    ('a huge exponent deep in metadata', pg_temp.b(pg_temp.c('tt-21', ', "metadata": {"a": [1e-999999999]}'))),
    ('a huge exponent after a bad chunk', ('[{"id": 1}, 1e999999999]')),
    ('a huge exponent beyond 16,000 dimensions', pg_temp.b(pg_temp.c('tt-21', ', "embedding": [' || repeat('1,', 16005) || '1e999999999]'))),
    ('a huge exponent after a bad element', pg_temp.b(pg_temp.c('tt-21', ', "embedding": ["x", 1e999999999]'))),
    ('100,000 digits', pg_temp.b(pg_temp.c('tt-21', ', "embedding": [1' || repeat('0', 100000) || ']'))),
    ('an exponent of 1e400', pg_temp.b(pg_temp.c('tt-21', ', "embedding": [1e400]'))),
    ('an exponent of -400', pg_temp.b(pg_temp.c('tt-21', ', "embedding": [1e-400, -1e-400]'))),
    ('a 1,000-digit exponent', pg_temp.b(pg_temp.c('tt-21', ', "embedding": [1e' || repeat('9', 1000) || ']'))),
    -- JSON, but not a batch
    ('an object', ('{"source": "claude_context"}')),
    ('a number', ('42')),
    ('a string', ('"[]"')),
    ('JSON null', ('null')),
    ('an element that is a number', ('[1, null]')),
    ('an element that is null', ('[null]')),
    ('an element that is an array', pg_temp.b('[' || pg_temp.c('tt-22', '') || ']')),
    ('an element that is a string', ('["x"]')),
    ('an element that is a boolean', ('[true]')),
    ('a good chunk, then a number', pg_temp.b(pg_temp.c('tt-22', '') || ', 5')),
    -- bad chunks
    ('no source', ('[{"source_id": "a", "content": "x"}]')),
    ('no content', ('[{"source": "claude_context", "source_id": "a", "project_id": "proj-t"}]')),
    ('no source_id', ('[{"source": "claude_context", "project_id": "proj-t", "content": "x"}]')),
    ('an empty object', ('[{}]')),
    ('no project_id', ('[{"source": "claude_context", "source_id": "a", "content": "x"}]')),
    ('a cognee chunk without its dataset', ('[{"source": "cognee", "source_id": "a", "content": "x"}]')),
    ('an unknown source', ('[{"source": "unified", "source_id": "a", "content": "x"}]')),
    ('an unknown key', pg_temp.b(pg_temp.c('tt-23', ', "embeding": [1]'))),
    ('unknown keys: the first in jsonb order', pg_temp.b(pg_temp.c('tt-23', ', "zzzzzzzzzzzzzzzzzzzz": 1, "id": 2, "ab": 3'))),
    ('an unknown key before a bad value in jsonb order', ('[{"id": 1, "source_id": 5, "source": "claude_context", "content": "x"}]')),
    ('a bad value before an unknown key in jsonb order', ('[{"zzzzzzzzzzzzzzzzzzzzzzz": 1, "source_id": 5, "source": "claude_context", "content": "x"}]')),
    ('an unknown key and no content', ('[{"source": "claude_context", "source_id": "a", "zz": 1}]')),
    ('a bad embedding before a bad source_id', ('[{"source": "claude_context", "source_id": 5, "content": "x", "embedding": [1, "x"]}]')),
    ('a bad end_line before a bad embedding', ('[{"source": "claude_context", "source_id": "a", "content": "x", "project_id": "proj-t", "end_line": "9", "embedding": [1, "x"]}]')),
    ('source_id a number', pg_temp.b('{"source": "claude_context", "source_id": 9, "project_id": "proj-t", "content": "x"}')),
    ('source null', ('[{"source": null, "source_id": "a", "content": "x"}]')),
    ('content an object', ('[{"source": "claude_context", "source_id": "a", "project_id": "proj-t", "content": {"a": 1}}]')),
    ('start_line a string', pg_temp.b(pg_temp.c('tt-24', ', "start_line": "1"'))),
    ('start_line a fraction', pg_temp.b(pg_temp.c('tt-24', ', "start_line": 1.5'))),
    ('start_line 1.0', pg_temp.b(pg_temp.c('tt-24', ', "start_line": 1.0'))),
    ('end_line beyond int4', pg_temp.b(pg_temp.c('tt-24', ', "end_line": 99999999999'))),
    ('chunk_index a boolean', pg_temp.b(pg_temp.c('tt-24', ', "chunk_index": true'))),
    ('metadata an array', pg_temp.b(pg_temp.c('tt-24', ', "metadata": []'))),
    ('metadata null', pg_temp.b(pg_temp.c('tt-24', ', "metadata": null'))),
    ('metadata a string', pg_temp.b(pg_temp.c('tt-24', ', "metadata": "{}"'))),
    ('created_at a number', pg_temp.b(pg_temp.c('tt-24', ', "created_at": 1'))),
    ('created_at not a time', pg_temp.b(pg_temp.c('tt-24', ', "created_at": "yesterday-ish"'))),
    ('created_at out of range', pg_temp.b(pg_temp.c('tt-24', ', "created_at": "2024-13-45"'))),
    ('a bad uuid', ('[{"source": "cognee", "source_id": "a", "cognee_dataset_id": "not-a-uuid", "content": "x"}]')),
    -- bad embeddings
    ('embedding an object', pg_temp.b(pg_temp.c('tt-25', ', "embedding": {"0": 1}'))),
    ('embedding a number', pg_temp.b(pg_temp.c('tt-25', ', "embedding": 1'))),
    ('embedding a boolean', pg_temp.b(pg_temp.c('tt-25', ', "embedding": false'))),
    ('nested arrays', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [[1, 2], [3, 4]]'))),
    ('an object element', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [1, {}]'))),
    ('a null element', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [1, null]'))),
    ('a boolean element', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [1, true]'))),
    ('a string element "NaN"', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [1, "NaN"]'))),
    ('a string element "Infinity"', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [1, "Infinity"]'))),
    ('NaN in the string form', pg_temp.b(pg_temp.c('tt-25', ', "embedding": "[1, NaN]"'))),
    ('Infinity in the string form', pg_temp.b(pg_temp.c('tt-25', ', "embedding": "{1,-Infinity}"'))),
    ('beyond real', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [1, 3.5e38]'))),
    ('beyond real, negative', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [1, -3.4028236e38]'))),
    ('beyond real with 30 digits', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [1, 340282356779733661637539395458142568448.5]'))),
    ('two problems: the first counts', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [1, 1e39, "x"]'))),
    ('16,001 dimensions', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [' || repeat('0.5,', 16000) || '0.5]'))),
    ('16,001 dimensions, the first a string', pg_temp.b(pg_temp.c('tt-25', ', "embedding": ["x", ' || repeat('0.5,', 15999) || '0.5]'))),
    ('16,001 dimensions, the last beyond real', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [' || repeat('0.5,', 16000) || '1e39]'))),
    ('100,000 dimensions', pg_temp.b(pg_temp.c('tt-25', ', "embedding": [' || repeat('1,', 99999) || '1]'))),
    -- the batch as a whole
    ('the same key twice', pg_temp.b(pg_temp.c('tt-26', '') || ', ' || pg_temp.c('tt-26', ''))),
    ('the same key three times among others', pg_temp.b(pg_temp.c('tt-27', '') || ', ' || pg_temp.c('tt-26', '') || ', ' || pg_temp.c('tt-27', '') || ', ' || pg_temp.c('tt-27', ''))),
    ('the same key, differently escaped', pg_temp.b(pg_temp.c('tt-26', '') || ', ' || pg_temp.c('tt-\u0032\u0036', ''))),
    ('a row of another project', ('[{"source": "claude_context", "source_id": "tt-x", "project_id": "proj-other", "content": "x"}]')),
    ('a cognee row', ('[{"source": "cognee", "source_collection": "tt", "source_id": "tt-mem", "cognee_dataset_id": "00000000-0000-0000-0000-0000000000d1", "content": "overwritten"}]')),
    ('a text over 16 MB (the jsonb path inside)', pg_temp.b(pg_temp.c('tt-28', ', "relative_path": "' || repeat('y', 17000000) || '", "id": 1'))),
    ('a valid text over 16 MB', pg_temp.b(pg_temp.c('tt-28', ', "embedding": [1, 2], "metadata": {"pad": "' || repeat('z', 17000000) || '"}')));
INSERT INTO cases (label, batch, mu, role) VALUES
    ('cognee: belongs_to_set united', ('[{"source": "cognee", "source_collection": "tt", "source_id": "tt-mem", "cognee_dataset_id": "00000000-0000-0000-0000-0000000000d1", "content": "memory v2", "metadata": {"type": "DocumentChunk", "belongs_to_set": ["places", "people"]}, "embedding": [0.5, 0.5]}]'), ARRAY['belongs_to_set'], 'tap_t_cognee'),
    ('cognee: a new data point', ('[{"source": "cognee", "source_collection": "tt", "source_id": "tt-mem2", "cognee_dataset_id": "00000000-0000-0000-0000-0000000000d1", "content": "new", "metadata": {"belongs_to_set": ["x"]}}]'), ARRAY['belongs_to_set'], 'tap_t_cognee'),
    ('cognee: a claude_context row', pg_temp.b(pg_temp.c('tt-29', '')), NULL, 'tap_t_cognee'),
    ('cognee: another dataset', ('[{"source": "cognee", "source_id": "tt-m3", "cognee_dataset_id": "00000000-0000-0000-0000-0000000000d2", "content": "x"}]'), ARRAY['belongs_to_set'], 'tap_t_cognee');

-- The stored rows of the cases' keys, as text.
CREATE FUNCTION pg_temp.stored() RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', source, source_collection,
                    source_id, project_id, cognee_dataset_id, md5(content), md5(relative_path), start_line, end_line,
                    file_extension, chunk_index, md5(embedding::text), embedding_model, md5(metadata::text),
                    created_at, updated_at), E'\n' ORDER BY source, source_collection, source_id), '')
      FROM unified.chunks WHERE source_collection = 'tt' OR source_id LIKE 'tt-%'
$$;

-- The outcome of one statement run with the batch as $1 (text) and
-- metadata_union as $2, undone: "ok <result> <rows>" or the error.
CREATE FUNCTION pg_temp.outcome(stmt text, batch text, mu text[], who text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    res     text;
    st      text;
    msg     text;
    det     text;
BEGIN
    BEGIN
        EXECUTE format('SET LOCAL ROLE %I', who);
        EXECUTE stmt INTO res USING batch, mu;
        RESET ROLE;
        RAISE EXCEPTION 'ok' USING ERRCODE = 'U0001', DETAIL = coalesce(res, '<null>') || E'\n' || pg_temp.stored();
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
        RETURN CASE WHEN st = 'U0001' THEN 'ok ' || det ELSE st || ': ' || msg || ' / ' || coalesce(det, '') END;
    END;
END
$$;

CREATE TEMP TABLE outcomes AS
SELECT c.n, c.label,
       pg_temp.outcome('SELECT row(u.*)::text FROM unified.upsert_chunks($1::text, $2) u', c.batch, c.mu, c.role) AS text_upsert,
       pg_temp.outcome('SELECT row(u.*)::text FROM unified.upsert_chunks($1::jsonb, $2) u', c.batch, c.mu, c.role) AS jsonb_upsert,
       pg_temp.outcome('SELECT md5(unified.upsert_chunks_parse($1::text)::text)', c.batch, c.mu, c.role) AS text_parse,
       pg_temp.outcome('SELECT md5(unified.upsert_chunks_parse($1::jsonb)::text)', c.batch, c.mu, c.role) AS jsonb_parse
  FROM cases c;

-- what some of the outcomes must be, so that "the same" is not "the same failure"
CREATE TEMP TABLE expect (label text PRIMARY KEY, prefix text NOT NULL);
INSERT INTO expect VALUES
    ('two chunks, every key', 'ok (2,0)'),
    ('update keeps what is not named', 'ok (0,1)'),
    ('empty batch', 'ok (0,0)'),
    ('a duplicated key keeps its last value', 'ok (1,0)'),
    ('a good embedding replaced by a bad one', '22023: invalid embedding in chunk 1 / Element 2 of "embedding" is a string.'),
    ('numbers of every shape', 'ok (1,0)'),
    ('16,000 dimensions', 'ok (1,0)'),
    ('500 chunks', 'ok (500,0)'),
    ('a trailing comma', '22P02: invalid input syntax for type json'),
    ('a syntax error after a bad chunk', '22P02: invalid input syntax for type json'),
    ('\u0000 in a string', '22P05: unsupported Unicode escape sequence / \u0000 cannot be converted to text.'),
    ('\u0000 in an unknown key''s value', '22P05: unsupported Unicode escape sequence'),
    ('nesting 100,000 deep', '54001: stack depth limit exceeded'),
    ('an exponent beyond numeric', '22003: value overflows numeric format'),
    ('a huge exponent after a bad chunk', '22003: value overflows numeric format'),
    ('an object', '22023: chunks must be a JSON array of objects / The value given is a JSON object.'),
    ('JSON null', '22023: chunks must be a JSON array of objects / The value given is a JSON scalar.'),
    ('an unknown key before a bad value in jsonb order', '22023: invalid chunk 1 in upsert_chunks / Chunk 1 has an unknown key "id".'),
    ('a bad value before an unknown key in jsonb order', '22023: invalid chunk 1 in upsert_chunks / Chunk 1 has "source_id" of JSON type number, not string.'),
    ('16,001 dimensions, the first a string', '54000: embedding of chunk 1 has 16001 dimensions, more than 16000'),
    ('100,000 dimensions', '54000: embedding of chunk 1 has 100000 dimensions, more than 16000'),
    ('the same key, differently escaped', '21000: upsert_chunks would write the same source row twice'),
    ('a cognee row', '42501'),
    ('a text over 16 MB (the jsonb path inside)', '22023: invalid chunk 1 in upsert_chunks / Chunk 1 has an unknown key "id".'),
    ('a valid text over 16 MB', 'ok (1,0)'),
    ('cognee: belongs_to_set united', 'ok (0,1)');

SELECT plan((SELECT count(*)::int * 2 FROM cases) + (SELECT count(*)::int FROM expect) + 1 + 16);

SELECT is(o.text_upsert, o.jsonb_upsert, o.label || ': upsert_chunks(text) and (jsonb) have the same outcome')
  FROM outcomes o ORDER BY o.n;
SELECT is(o.text_parse, o.jsonb_parse, o.label || ': upsert_chunks_parse(text) and (jsonb) give the same batch')
  FROM outcomes o ORDER BY o.n;
SELECT is(left(o.text_upsert, length(e.prefix)), e.prefix, e.label || ': the outcome is ' || e.prefix)
  FROM expect e LEFT JOIN outcomes o USING (label) ORDER BY e.label;
SELECT is((SELECT count(*) FROM expect e WHERE NOT EXISTS (SELECT FROM cases c WHERE c.label = e.label)), 0::bigint,
          'every expectation names a case');

-- Which form runs.  A string literal and an untyped parameter (what
-- node-postgres and asyncpg send for $1) are of unknown type: PostgreSQL
-- prefers the string category, so they resolve to the text form; a jsonb
-- value keeps the jsonb form; no way of calling is ambiguous (42725).
CREATE FUNCTION pg_temp.call_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    l   text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
        IF l ~ 'Function Call:' THEN
            RETURN btrim(l);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
SELECT is(pg_temp.call_of($q$SELECT * FROM unified.upsert_chunks('[]')$q$),
          $r$Function Call: unified.upsert_chunks('[]'::text)$r$, 'a literal is the text form');
SELECT is(pg_temp.call_of($q$SELECT * FROM unified.upsert_chunks('[]', ARRAY['belongs_to_set'])$q$),
          $r$Function Call: unified.upsert_chunks('[]'::text, '{belongs_to_set}'::text[])$r$, 'a literal with metadata_union is the text form');
SELECT is(pg_temp.call_of($q$SELECT * FROM unified.upsert_chunks('[]', NULL)$q$),
          $r$Function Call: unified.upsert_chunks('[]'::text, NULL::text[])$r$, 'two untyped arguments: the text form, not ambiguous');
SELECT is(pg_temp.call_of($q$SELECT * FROM unified.upsert_chunks('[]', '{a}')$q$),
          $r$Function Call: unified.upsert_chunks('[]'::text, '{a}'::text[])$r$, 'two literals: the text form');
SELECT is(pg_temp.call_of($q$SELECT * FROM unified.upsert_chunks(chunks => '[]', metadata_union => ARRAY['a'])$q$),
          $r$Function Call: unified.upsert_chunks('[]'::text, '{a}'::text[])$r$, 'named arguments: the text form');
SELECT is(pg_temp.call_of($q$SELECT * FROM unified.upsert_chunks(NULL)$q$),
          $r$Function Call: unified.upsert_chunks(NULL::text)$r$, 'NULL: the text form');
SELECT is(pg_temp.call_of($q$SELECT * FROM unified.upsert_chunks('[]'::jsonb)$q$),
          $r$Function Call: unified.upsert_chunks('[]'::jsonb)$r$, 'a jsonb value keeps the jsonb form');
SELECT is(pg_temp.call_of($q$SELECT * FROM unified.upsert_chunks(pg_catalog.jsonb_build_array(), ARRAY['a'])$q$),
          $r$Function Call: unified.upsert_chunks(jsonb_build_array(), '{a}'::text[])$r$, 'a jsonb expression keeps the jsonb form');
PREPARE tap_t_p1 AS SELECT * FROM unified.upsert_chunks($1);
PREPARE tap_t_p2 AS SELECT * FROM unified.upsert_chunks($1, $2);
PREPARE tap_t_p3 AS SELECT * FROM unified.upsert_chunks($1::jsonb, $2);
SELECT is((SELECT parameter_types::text FROM pg_prepared_statements WHERE name = 'tap_t_p1'), '{text}',
          'an untyped parameter is text');
SELECT is((SELECT parameter_types::text FROM pg_prepared_statements WHERE name = 'tap_t_p2'), '{text,text[]}',
          'two untyped parameters: text and text[]');
SELECT is((SELECT parameter_types::text FROM pg_prepared_statements WHERE name = 'tap_t_p3'), '{jsonb,text[]}',
          'a parameter cast to jsonb stays jsonb');
DEALLOCATE tap_t_p1;
DEALLOCATE tap_t_p2;
DEALLOCATE tap_t_p3;

-- and the parser that runs is the one of that form
SET LOCAL track_functions = 'all';
CREATE FUNCTION pg_temp.parsers(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t0  bigint := coalesce(pg_stat_get_xact_function_calls('unified.upsert_chunks_parse(text)'::regprocedure), 0);
    j0  bigint := coalesce(pg_stat_get_xact_function_calls('unified.upsert_chunks_parse(jsonb)'::regprocedure), 0);
BEGIN
    EXECUTE q;
    RETURN format('text %s, jsonb %s',
                  coalesce(pg_stat_get_xact_function_calls('unified.upsert_chunks_parse(text)'::regprocedure), 0) - t0,
                  coalesce(pg_stat_get_xact_function_calls('unified.upsert_chunks_parse(jsonb)'::regprocedure), 0) - j0);
END
$$;
SELECT is(pg_temp.parsers($q$SELECT * FROM unified.upsert_chunks('[]')$q$), 'text 1, jsonb 0',
          'a literal batch is parsed by upsert_chunks_parse(text)');
SELECT is(pg_temp.parsers($q$SELECT * FROM unified.upsert_chunks('[]', ARRAY['belongs_to_set'])$q$), 'text 1, jsonb 0',
          'with metadata_union too');
SELECT is(pg_temp.parsers($q$SELECT * FROM unified.upsert_chunks('[]'::jsonb)$q$), 'text 0, jsonb 1',
          'a jsonb batch by upsert_chunks_parse(jsonb)');
SELECT is(pg_temp.parsers($q$SELECT * FROM unified.upsert_chunks('[]'::jsonb, ARRAY['belongs_to_set'])$q$), 'text 0, jsonb 1',
          'with metadata_union too');
SELECT is(pg_temp.parsers($q$SELECT * FROM unified.upsert_chunks(repeat(' ', 17000000) || '[]')$q$), 'text 1, jsonb 0',
          'a text over 16 MB is still the text form (it makes a jsonb inside)');

SELECT * FROM finish();
ROLLBACK;
