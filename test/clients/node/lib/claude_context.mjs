// Claude-Context's indexing and search flow on unified_pg's operations.
//
// Claude-Context keeps one collection per codebase, named code_chunks_ +
// the first 8 hex digits of the MD5 of the codebase's path; a chunk's id is
// chunk_ + the first 16 hex digits of the SHA-256 of
// "relativePath:startLine:endLine:content", so the same text at the same
// place always gets the same id.  It writes chunks in batches of 100 and,
// when a file changes, deletes the file's chunks and writes the new ones.
// Here the writes go through unified.upsert_chunks, the deletes through
// unified.delete_file_chunks and the searches through unified.search_chunks
// and unified.hybrid_search; the codebase is the project.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { embed } from './embedding.mjs';

export const BATCH_SIZE = 100;
const LINES_PER_CHUNK = 40;

// Claude-Context's collection name for a codebase path.
export function collectionName(codebasePath) {
  const h = crypto.createHash('md5').update(path.resolve(codebasePath)).digest('hex');
  return `code_chunks_${h.slice(0, 8)}`;
}

// Claude-Context's chunk id.
export function chunkId(relativePath, startLine, endLine, content) {
  const h = crypto.createHash('sha256')
    .update(`${relativePath}:${startLine}:${endLine}:${content}`).digest('hex');
  return `chunk_${h.slice(0, 16)}`;
}

// Split a file's text into chunks of LINES_PER_CHUNK lines (1-based, inclusive).
export function splitFile(relativePath, text) {
  const lines = text.split('\n');
  const chunks = [];
  for (let i = 0; i < lines.length; i += LINES_PER_CHUNK) {
    const content = lines.slice(i, i + LINES_PER_CHUNK).join('\n');
    if (content.trim() === '') continue;
    const startLine = i + 1;
    const endLine = Math.min(i + LINES_PER_CHUNK, lines.length);
    chunks.push({
      id: chunkId(relativePath, startLine, endLine, content),
      content, relativePath, startLine, endLine,
      fileExtension: path.extname(relativePath),
    });
  }
  return chunks;
}

// Every file under root with one of the extensions, as relative paths.
export function listFiles(root, extensions) {
  const out = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !extensions.includes(path.extname(entry.name))) continue;
    out.push(path.relative(root, path.join(entry.parentPath ?? entry.path, entry.name)));
  }
  return out.sort();
}

export class ClaudeContextIndexer {
  // pools: a UnifiedPostgresPool; codebasePath: the directory indexed.
  constructor(pools, codebasePath) {
    this.pools = pools;
    this.root = codebasePath;
    this.collection = collectionName(codebasePath);
    this.project = this.collection;
  }

  // The JSON object upsert_chunks takes for one chunk.
  row(chunk) {
    return {
      source: 'claude_context',
      source_collection: this.collection,
      source_id: chunk.id,
      project_id: this.project,
      content: chunk.content,
      relative_path: chunk.relativePath,
      start_line: chunk.startLine,
      end_line: chunk.endLine,
      file_extension: chunk.fileExtension,
      // Claude-Context sends vectors in pgvector's text form
      embedding: `[${embed(chunk.content).join(',')}]`,
      metadata: { codebasePath: this.root, language: chunk.fileExtension.slice(1) },
    };
  }

  // Upsert chunks in batches of BATCH_SIZE on one client; returns the batch count.
  async upsert(client, chunks) {
    let batches = 0;
    for (let i = 0; i < chunks.length; i += BATCH_SIZE) {
      const batch = chunks.slice(i, i + BATCH_SIZE).map((c) => this.row(c));
      // an untyped parameter: the text form of upsert_chunks, which parses the JSON once
      await client.query('SELECT * FROM unified.upsert_chunks($1)', [JSON.stringify(batch)]);
      batches++;
    }
    return batches;
  }

  // Index every file with the extensions: all chunks in one transaction.
  async indexCodebase(extensions) {
    const chunks = [];
    for (const rel of listFiles(this.root, extensions)) {
      chunks.push(...splitFile(rel, fs.readFileSync(path.join(this.root, rel), 'utf8')));
    }
    const batches = await this.pools.executeInTransaction((c) => this.upsert(c, chunks), 'claude');
    return { chunks: chunks.length, batches };
  }

  // Re-index a changed file: delete its chunks, write the new ones, atomically.
  async reindexFile(relativePath, text) {
    const chunks = splitFile(relativePath, text);
    return this.pools.executeInTransaction(async (c) => {
      const { rows } = await c.query('SELECT unified.delete_file_chunks($1, $2, $3) AS n',
        [this.project, relativePath, this.collection]);
      await this.upsert(c, chunks);
      return { deleted: Number(rows[0].n), written: chunks.length };
    }, 'claude');
  }

  // Semantic search of the codebase: the k nearest chunks to the query text.
  async search(query, k = 10, { minScore } = {}) {
    const { rows } = await this.pools.pool('claude').query(
      `SELECT source_id, relative_path, start_line, end_line, content, score
         FROM unified.search_chunks($1::real[], $2, project_id => $3, source_collection => $4,
                                    min_score => $5)`,
      [embed(query), k, this.project, this.collection, minScore ?? null]);
    return rows;
  }

  // Hybrid search (vector + full text, reciprocal rank fusion).
  async hybridSearch(query, k = 10) {
    const { rows } = await this.pools.pool('claude').query(
      `SELECT source_id, relative_path, start_line, content
         FROM unified.hybrid_search($1::real[], $2, $3, $4, source_collection => $5)`,
      [embed(query), query, k, this.project, this.collection]);
    return rows;
  }
}
