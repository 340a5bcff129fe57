-- Embeddings sent as JSON numbers: each numeric becomes the correctly
-- rounded real (src/numeric_real.c), exactly as the text-to-real cast
-- (float4in, strtof) rounds the same decimal text.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- 20,000 decimals of every shape an encoder writes (fixed and exponent
-- notation, 1 to 17 significant digits, 10^-44 to 10^38) agree with
-- float4in; values float4in refuses (underflow to zero) are left out here
SELECT setseed(0.42);
WITH v AS (SELECT g, CASE g % 6
          WHEN 0 THEN to_char(random() - 0.5, 'FM0.000000000')
          WHEN 1 THEN ((random() - 0.5) * 10 ^ (-(g % 40)))::text
          WHEN 2 THEN ((random() - 0.5) * 10 ^ (g % 39))::text
          WHEN 3 THEN (random()::numeric(20, 17))::text
          WHEN 4 THEN (((random() - 0.5) * 1e6)::numeric(30, 0) * 10::numeric ^ (-(g % 30)))::text
          ELSE format('%se%s', round((random() - 0.5)::numeric, 12), (g % 76) - 45) END AS t
       FROM generate_series(1, 20000) g)
SELECT count(*) > 19000 AS enough, count(*) FILTER (WHERE e IS DISTINCT FROM t::real) AS differ
  FROM (SELECT t, (unified.embedding_from_jsonb(('[' || t || ']')::jsonb, 1))[1] AS e
          FROM v WHERE abs(t::float8) < 3e38 AND (t::float8 = 0 OR abs(t::float8) > 1e-44)) x;

-- the same decimals through the text form of upsert_chunks, which reads
-- each number's text itself (upg_json_number_to_real): the same reals as
-- float4in, and bit for bit (float4send: the sign of zero too) the same as
-- the jsonb form, here including the values that underflow
SELECT setseed(0.42);
CREATE TEMP TABLE decimals AS
SELECT g, CASE g % 6
          WHEN 0 THEN to_char(random() - 0.5, 'FM0.000000000')
          WHEN 1 THEN ((random() - 0.5) * 10 ^ (-(g % 40)))::text
          WHEN 2 THEN ((random() - 0.5) * 10 ^ (g % 39))::text
          WHEN 3 THEN (random()::numeric(20, 17))::text
          WHEN 4 THEN (((random() - 0.5) * 1e6)::numeric(30, 0) * 10::numeric ^ (-(g % 30)))::text
          ELSE format('%se%s', round((random() - 0.5)::numeric, 12), (g % 76) - 45) END AS t
  FROM generate_series(1, 20000) g;
CREATE TEMP TABLE decimals_text AS
WITH batch AS (
    SELECT '[' || string_agg(format('{"source": "claude_context", "source_id": "d%s", "project_id": "p", "content": "x", "embedding": [%s]}',
                                    grp, ts), ', ') || ']' AS b
      FROM (SELECT (g - 1) / 10000 AS grp, string_agg(t, ', ' ORDER BY g) AS ts FROM decimals GROUP BY 1) x)
SELECT substr(p.source_id, 2)::int * 10000 + e.k AS g, e.x
  FROM batch, unnest(unified.upsert_chunks_parse(batch.b::text)) p, unnest(p.embedding) WITH ORDINALITY AS e(x, k);
SELECT count(*) AS numbers,
       count(*) FILTER (WHERE abs(d.t::float8) < 3e38 AND (d.t::float8 = 0 OR abs(d.t::float8) > 1e-44)
                          AND x.x IS DISTINCT FROM d.t::real) AS differ_from_float4in,
       count(*) FILTER (WHERE float4send(x.x)
                          IS DISTINCT FROM float4send((unified.embedding_from_jsonb(('[' || d.t || ']')::jsonb, 1))[1])) AS differ_from_jsonb
  FROM decimals d JOIN decimals_text x USING (g);

-- edges through both forms, bit for bit (float4send)
WITH e(t) AS (VALUES ('0'), ('-0'), ('-0.0'), ('0e5'), ('-0E-5'), ('1e-45'), ('-1e-45'), ('7e-46'), ('7.1e-46'),
                     ('1e-50'), ('-1e-50'), ('0.1e+0000000000000000001'), ('1E5'), ('1e+2'), ('3.4e38'), ('3.4028235e38'),
                     ('-3.4028235677973366e38'), ('16777217'), ('16777219'), ('1.0000000596046447753906250001'),
                     ('1.000000059604644775390625'), ('123456789012345678901234567890'), ('9007199254740993'),
                     ('0.012345678918766975'), ('0.000000000000000000000000000000000000011754943508222875'),
                     ('1e-400'), ('-1e-400'), ('0.' || repeat('3', 300)))
SELECT left(e.t, 40) AS t, p.embedding[1] AS text_form,
       float4send(p.embedding[1]) = float4send((unified.embedding_from_jsonb(('[' || e.t || ']')::jsonb, 1))[1]) AS same_as_jsonb
  FROM e, unnest(unified.upsert_chunks_parse(format('[{"source": "claude_context", "source_id": "e", "project_id": "p", "content": "x", "embedding": [%s]}]', e.t)::text)) p;
-- refused alike: beyond real, and what numeric cannot hold
SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "e", "project_id": "p", "content": "x", "embedding": [1, 3.5e38]}]'::text);
SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "e", "project_id": "p", "content": "x", "embedding": [1, 3.5e38]}]'::jsonb);
SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "e", "project_id": "p", "content": "x", "embedding": [1e999999999]}]'::text);
SELECT unified.upsert_chunks_parse('[{"source": "claude_context", "source_id": "e", "project_id": "p", "content": "x", "embedding": [1e999999999]}]'::jsonb);

-- edges: signs, zeros (numeric has no negative zero), the subnormal range
-- (1e-45 is the smallest real, below half of it rounds to 0), the top of
-- the range, ties to even, and a decimal one digit above a tie, which
-- rounding through double (the old numeric -> float8 -> real path) got wrong
SELECT unified.embedding_from_jsonb('[0.1, -0.1, 1, -2.5, 0, -0, -0.0, 1e-45, -1e-45, 7e-46, 7.1e-46, 1e-50, 3.4e38, 3.4028235e38, -3.4028235677973366e38, 16777217, 16777219, 1.0000000596046447753906250001, 1.000000059604644775390625, 123456789012345678901234567890, 0.000000000000000000000000000000000000011754943508222875]', 1) AS e;
SELECT unified.embedding_from_jsonb('[1.0000000596046447753906250001]', 1) = ARRAY['1.0000000596046447753906250001'::real] AS above_tie,
       unified.embedding_from_jsonb('[1.0000000596046447753906250001]', 1)
           <> ARRAY['1.0000000596046447753906250001'::float8::real] AS double_rounding_differs;
-- a numeric with more digits than the stack buffer holds
SELECT unified.embedding_from_jsonb(('[0.' || repeat('3', 300) || ']')::jsonb, 1) = ARRAY[(1.0 / 3)::real] AS long_digits;

-- refused: beyond the range of real (either sign), not finite, not numbers
SELECT unified.embedding_from_jsonb('[1, 3.5e38]', 7);
SELECT unified.embedding_from_jsonb('[1, -3.4028236e38]', 7);
SELECT unified.embedding_from_jsonb('[1, 1e400]', 7);
SELECT unified.embedding_from_jsonb('[1, "NaN"]', 7);
SELECT unified.embedding_from_jsonb('"[1, NaN]"', 7);
SELECT unified.embedding_from_jsonb('"[1, -Infinity]"', 7);
SELECT unified.embedding_from_jsonb('[1, NaN]', 7);

-- through upsert_chunks: the same reals as the text form gives (a JSON
-- number has no negative zero, numeric having none; a string keeps it)
CREATE ROLE reg_num_claude IN ROLE claude_user;
SET ROLE reg_num_claude;
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_collection": "code_chunks_num", "source_id": "n1",
  "project_id": "proj-num", "content": "x", "embedding": [0.012345679, -1.2345678e-05, 3.4e38, 1e-45, -0]},
  {"source": "claude_context", "source_collection": "code_chunks_num", "source_id": "n2",
  "project_id": "proj-num", "content": "y", "embedding": "[0.012345679, -1.2345678e-05, 3.4e38, 1e-45, -0]"}]');
SELECT source_id, embedding FROM unified.chunks WHERE source_collection = 'code_chunks_num' ORDER BY source_id;
-- an element out of range: a clear error naming the chunk, nothing written
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_collection": "code_chunks_num", "source_id": "n3",
  "project_id": "proj-num", "content": "z", "embedding": [0.5, 4e38]}]');
SELECT count(*) AS stored FROM unified.chunks WHERE source_collection = 'code_chunks_num';
RESET ROLE;
DELETE FROM unified.chunks WHERE source_collection = 'code_chunks_num';
DROP ROLE reg_num_claude;
