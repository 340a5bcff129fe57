// upsert_chunks' two forms through Claude-Context's real driver over TCP.
// node-postgres sends every parameter untyped (type 0), so
// `unified.upsert_chunks($1)` resolves to the text form, which reads the
// batch's JSON text itself; `$1::jsonb` keeps the jsonb form.  Both must
// store the same rows and refuse bad batches with the same error.
//
// Connection settings come from the usual PG* environment variables.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';

const project = `proj-text-${process.pid}`;
let pool;

// A batch of Claude-Context chunks as JSON.stringify sends it: the
// embedding as JSON numbers.
function batch(collection, n, version = 0) {
  return Array.from({ length: n }, (_, i) => ({
    source: 'claude_context',
    source_collection: collection,
    source_id: `chunk_${i}`,
    project_id: project,
    content: `function f${i}() { return ${version}; } // ✓ "quoted" \\ ${'x'.repeat(i)}`,
    relative_path: `src/f${i}.ts`,
    start_line: i * 10 + 1,
    end_line: i * 10 + 9,
    file_extension: '.ts',
    embedding: Array.from({ length: 768 }, (_, k) => Math.sin(i * 768 + k + version) / 3),
    metadata: { codebasePath: '/repo', language: 'typescript', n: i },
  }));
}

// The stored rows of one collection, without what differs by design (id, times).
async function stored(collection) {
  const { rows } = await pool.query(
    `SELECT source_id, project_id, content, relative_path, start_line, end_line, file_extension,
            embedding::text AS embedding, metadata
       FROM unified.chunks WHERE source_collection = $1 ORDER BY source_id`, [collection]);
  return rows;
}

before(async () => {
  pool = new pg.Pool({ application_name: 'claude-context', max: 2 });
});

after(async () => {
  await pool.query('DELETE FROM unified.chunks WHERE project_id = $1', [project]);
  await pool.end();
});

test('an untyped parameter is the text form; a ::jsonb cast keeps the jsonb form', async () => {
  const client = await pool.connect();
  try {
    const json = JSON.stringify(batch(`cc_${project}_probe`, 1));
    await client.query({ name: 'upg_upsert_untyped', text: 'SELECT * FROM unified.upsert_chunks($1)', values: [json] });
    await client.query({ name: 'upg_upsert_untyped2', text: 'SELECT * FROM unified.upsert_chunks($1, $2)', values: [json, null] });
    await client.query({ name: 'upg_upsert_jsonb', text: 'SELECT * FROM unified.upsert_chunks($1::jsonb)', values: [json] });
    const { rows } = await client.query(
      `SELECT name, parameter_types::text AS types FROM pg_prepared_statements
        WHERE name LIKE 'upg_upsert_%' ORDER BY name`);
    assert.deepEqual(rows, [
      { name: 'upg_upsert_jsonb', types: '{jsonb}' },
      { name: 'upg_upsert_untyped', types: '{text}' },
      { name: 'upg_upsert_untyped2', types: '{text,text[]}' },
    ]);
  } finally {
    client.release();
  }
});

test('both forms insert and update the same rows', async () => {
  const a = `cc_${project}_text`;
  const b = `cc_${project}_jsonb`;
  let r = await pool.query('SELECT * FROM unified.upsert_chunks($1)', [JSON.stringify(batch(a, 100))]);
  assert.deepEqual(r.rows[0], { inserted: '100', updated: '0' });
  r = await pool.query('SELECT * FROM unified.upsert_chunks($1::jsonb)', [JSON.stringify(batch(b, 100))]);
  assert.deepEqual(r.rows[0], { inserted: '100', updated: '0' });

  // re-index: new content and embeddings for the same keys
  r = await pool.query('SELECT * FROM unified.upsert_chunks($1)', [JSON.stringify(batch(a, 100, 1))]);
  assert.deepEqual(r.rows[0], { inserted: '0', updated: '100' });
  r = await pool.query('SELECT * FROM unified.upsert_chunks($1::jsonb)', [JSON.stringify(batch(b, 100, 1))]);
  assert.deepEqual(r.rows[0], { inserted: '0', updated: '100' });

  const ta = await stored(a);
  const tb = await stored(b);
  assert.equal(ta.length, 100);
  assert.deepEqual(ta, tb, 'the text form stores exactly what the jsonb form stores');
  // and each embedding is the correctly rounded real of what was sent
  const sent = batch(a, 1, 1)[0].embedding.map((x) => Math.fround(x));
  assert.deepEqual(ta[0].embedding.slice(1, -1).split(',').map((v) => Math.fround(Number(v))), sent);
});

test('both forms refuse bad batches with the same error', async () => {
  const good = batch(`cc_${project}_bad`, 1)[0];
  const cases = [
    '[{"source": "claude_context", "source_id": ',
    '{"not": "an array"}',
    JSON.stringify([{ ...good, embeding: [1] }]),
    JSON.stringify([{ ...good, embedding: [1, 'NaN'] }]),
    JSON.stringify([{ ...good, embedding: Array(16001).fill(0.5) }]),
    JSON.stringify([{ ...good, start_line: 1.5 }]),
    JSON.stringify([good, good]),
    JSON.stringify([{ ...good, content: 'a\u0000b' }]),
    '[' + JSON.stringify(good).replace('}', ', "embedding": [1e999999999]}') + ']',
  ];
  for (const json of cases) {
    const errors = [];
    for (const sql of ['SELECT * FROM unified.upsert_chunks($1)', 'SELECT * FROM unified.upsert_chunks($1::jsonb)']) {
      await assert.rejects(pool.query(sql, [json]), (e) => {
        errors.push({ code: e.code, message: e.message, detail: e.detail });
        return true;
      });
    }
    assert.deepEqual(errors[0], errors[1], `same error for ${json.slice(0, 60)}`);
  }
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM unified.chunks WHERE source_collection = $1',
    [`cc_${project}_bad`]);
  assert.equal(rows[0].n, 0, 'nothing written');
});
