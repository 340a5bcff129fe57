// The two participants' work in the distributed transaction tests: one
// Claude-Context chunk and one Cognee data point, tagged so a test can find them.
import crypto from 'node:crypto';

// The Cognee dataset the tests' data points belong to.
export function datasetFor(tag) {
  const h = crypto.createHash('sha256').update(`dtx-${tag}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// Claude-Context's participant: write one chunk of project dtx-<tag>.
export function claudeWork(tag) {
  return (c) => c.query('SELECT * FROM unified.upsert_chunks($1::jsonb)', [JSON.stringify([{
    source: 'claude_context', source_id: `dtx-${tag}`, project_id: `dtx-${tag}`, content: `claude side of ${tag}`,
  }])]);
}

// Cognee's participant: write one data point of the tag's dataset.
export function cogneeWork(tag) {
  return (c) => c.query('SELECT * FROM unified.upsert_chunks($1::jsonb)', [JSON.stringify([{
    source: 'cognee', source_collection: 'DocumentChunk_text', source_id: crypto.randomUUID(),
    cognee_dataset_id: datasetFor(tag), content: `cognee side of ${tag}`,
    metadata: { text: `cognee side of ${tag}`, belongs_to_set: ['dtx'] },
  }])]);
}
