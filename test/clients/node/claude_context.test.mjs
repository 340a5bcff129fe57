// Claude-Context's access pattern through its real driver, node-postgres:
// a pool with application_name 'claude-context' writes a file's chunks,
// reads them back by project and path, re-indexes the file (delete, then
// insert), and gets the server's SQLSTATEs for bad rows.
//
// Connection settings come from the usual PG* environment variables.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import pg from 'pg';

const project = `proj-node-${process.pid}`;
// Claude-Context keeps one collection per codebase; its chunk ids are unique within it.
const collection = `code_chunks_${project}`;
let pool;

function chunkId(path, index) {
  const h = crypto.createHash('sha256').update(`${project}:${path}:${index}`).digest('hex');
  return `chunk_${h.slice(0, 16)}`;
}

// Store every chunk of one file in one statement, as an indexer does.
async function writeFile(client, path, texts) {
  const values = [];
  const rows = texts.map((text, i) => {
    const base = i * 7;
    values.push(chunkId(path, i), project, text, path, i * 10 + 1, i * 10 + 9,
      JSON.stringify({ language: 'typescript', index: i }));
    return `('claude_context', $${texts.length * 7 + 1}, $${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, ` +
      `$${base + 5}, $${base + 6}, '.ts', $${base + 7}::jsonb, ARRAY[0.25, 0.5, 0.75]::real[])`;
  });
  await client.query(
    `INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content,
       relative_path, start_line, end_line, file_extension, metadata, embedding)
     VALUES ${rows.join(', ')}`, [...values, collection]);
}

before(async () => {
  pool = new pg.Pool({ application_name: 'claude-context', max: 4 });
  await pool.query('DELETE FROM unified.chunks WHERE project_id = $1', [project]);
});

after(async () => {
  await pool.query('DELETE FROM unified.chunks WHERE project_id = $1', [project]);
  await pool.end();
});

test('the pool connects as claude-context, as a member of claude_user', async () => {
  const { rows } = await pool.query(
    `SELECT application_name, pg_has_role(current_user, 'claude_user', 'MEMBER') AS member,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser
       FROM pg_stat_activity WHERE pid = pg_backend_pid()`);
  assert.equal(rows[0].application_name, 'claude-context');
  assert.equal(rows[0].member, true);
  assert.equal(rows[0].superuser, false, 'the test runs under row-level security');
});

test('a file is indexed and read back by project and path', async () => {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await writeFile(client, 'src/app.ts', ['export const a = 1;', 'export function f() {}', "import x from 'y';"]);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const { rows } = await pool.query(
    `SELECT source_id, content, start_line, end_line, metadata, embedding,
            encode(content_hash, 'hex') AS hash
       FROM unified.chunks WHERE project_id = $1 AND relative_path = $2 ORDER BY start_line`,
    [project, 'src/app.ts']);
  assert.equal(rows.length, 3);
  assert.equal(rows[0].source_id, chunkId('src/app.ts', 0));
  assert.deepEqual(rows[1].metadata, { language: 'typescript', index: 1 });
  assert.deepEqual(rows[2].embedding, [0.25, 0.5, 0.75]);
  const expected = crypto.createHash('sha256').update("import x from 'y';").digest('hex');
  assert.equal(rows[2].hash, expected, 'content_hash is the SHA-256 of the content');
});

test('re-indexing a changed file replaces its chunks', async () => {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('DELETE FROM unified.chunks WHERE project_id = $1 AND relative_path = $2',
      [project, 'src/app.ts']);
    await writeFile(client, 'src/app.ts', ['export const a = 2;', 'export function g() {}']);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const { rows } = await pool.query(
    'SELECT content FROM unified.chunks WHERE project_id = $1 AND relative_path = $2 ORDER BY start_line',
    [project, 'src/app.ts']);
  assert.deepEqual(rows.map((r) => r.content), ['export const a = 2;', 'export function g() {}']);
});

test('a duplicate chunk id is refused with 23505 and nothing is written', async () => {
  const before = await pool.query('SELECT count(*)::int AS n FROM unified.chunks WHERE project_id = $1', [project]);
  await assert.rejects(
    pool.query(
      `INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content)
       VALUES ('claude_context', $4, $1, $2, 'new text'),
              ('claude_context', $4, $3, $2, 'another')`,
      [chunkId('src/other.ts', 0), project, chunkId('src/app.ts', 0), collection]),
    (err) => err.code === '23505' && /already exists/.test(err.detail));
  const afterCount = await pool.query('SELECT count(*)::int AS n FROM unified.chunks WHERE project_id = $1', [project]);
  assert.equal(afterCount.rows[0].n, before.rows[0].n);
});

test('a chunk without a project is refused by row-level security (42501)', async () => {
  await assert.rejects(
    pool.query(
      `INSERT INTO unified.chunks (source, source_collection, source_id, content)
       VALUES ('claude_context', $1, 'chunk_ffffffffffffffff', 'orphan')`, [collection]),
    (err) => err.code === '42501' && /row-level security/.test(err.message));
});

test('Claude-Context cannot write into Cognee\'s space (42501)', async () => {
  await assert.rejects(
    pool.query(
      `INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content)
       VALUES ('cognee', 'DocumentChunk_text', 'not-mine', '11111111-1111-1111-1111-111111111111', 'x')`),
    (err) => err.code === '42501');
});

test('the same file in another codebase is stored again, in its own collection', async () => {
  const other = `code_chunks_${project}_fork`;
  await pool.query(
    `INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, relative_path)
     VALUES ('claude_context', $1, $2, $3, 'export const a = 2;', 'src/app.ts')`,
    [other, chunkId('src/app.ts', 0), project]);
  const { rows } = await pool.query(
    'SELECT count(*)::int AS n FROM unified.chunks WHERE source_id = $1', [chunkId('src/app.ts', 0)]);
  assert.equal(rows[0].n, 2);
});

test('hostile text is stored as data, not executed', async () => {
  const evil = "x'); DROP TABLE unified.chunks; --\u0000".replace('\u0000', '') + ' \u2603 %s %I';
  await pool.query(
    `INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, relative_path)
     VALUES ('claude_context', $4, $1, $2, $3, $3)`,
    [chunkId('evil', 0), project, evil, collection]);
  const { rows } = await pool.query(
    'SELECT content FROM unified.chunks WHERE project_id = $1 AND relative_path = $2', [project, evil]);
  assert.equal(rows[0].content, evil);
});

// Claude-Context's own operations through unified_pg's functions: re-index a
// file with delete_file_chunks + upsert_chunks (vectors sent as pgvector text,
// as the backend formats them), then search and hybrid-search the project.
test('re-index and search through the operations', async () => {
  const path = 'src/search.ts';
  const ops = `code_chunks_${project}_ops`;
  const docs = [
    { text: 'export function loadConfig(path) { return read(path); }', vector: [1, 0, 0] },
    { text: 'export function renderPage(state) { return html(state); }', vector: [0, 1, 0] },
  ];
  const batch = docs.map((d, i) => ({
    source: 'claude_context', source_collection: ops, source_id: chunkId(path, i), project_id: project,
    content: d.text, relative_path: path, start_line: i * 10 + 1, end_line: i * 10 + 9,
    file_extension: '.ts', embedding: `[${d.vector.join(',')}]`, metadata: { language: 'typescript' },
  }));
  let r = await pool.query('SELECT * FROM unified.upsert_chunks($1::jsonb)', [JSON.stringify(batch)]);
  assert.deepEqual(r.rows[0], { inserted: '2', updated: '0' });
  r = await pool.query('SELECT * FROM unified.upsert_chunks($1::jsonb)', [JSON.stringify(batch)]);
  assert.deepEqual(r.rows[0], { inserted: '0', updated: '2' }, 'idempotent: the same batch updates');

  r = await pool.query(
    'SELECT source_id, score FROM unified.search_chunks($1::real[], 1, $2, source_collection => $3)',
    [[0.9, 0.1, 0], project, ops]);
  assert.equal(r.rows[0].source_id, chunkId(path, 0));
  r = await pool.query('SELECT source_id FROM unified.hybrid_search($1::real[], $2, 2, $3, source_collection => $4)',
    [[0, 1, 0], 'render page', project, ops]);
  assert.equal(r.rows[0].source_id, chunkId(path, 1));

  r = await pool.query('SELECT unified.delete_file_chunks($1, $2, $3) AS n', [project, path, ops]);
  assert.equal(r.rows[0].n, '2');
  await assert.rejects(
    pool.query('SELECT * FROM unified.upsert_chunks($1::jsonb)', [JSON.stringify([{ ...batch[0], embeding: [1] }])]),
    (e) => e.code === '22023' && /unknown key "embeding"/.test(e.detail));
});
