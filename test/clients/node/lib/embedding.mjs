// A small deterministic text embedding for the tests: the words of a text
// hashed into DIMENSIONS buckets (feature hashing), L2-normalised.  Texts that
// share words are near in cosine distance, so searches have real answers
// without an embedding service.
import crypto from 'node:crypto';

export const DIMENSIONS = 64;

// The embedding of a text, as an array of DIMENSIONS numbers.
export function embed(text) {
  const v = new Array(DIMENSIONS).fill(0);
  for (const word of text.toLowerCase().match(/[a-z_][a-z0-9_]{2,}/g) ?? []) {
    const h = crypto.createHash('sha1').update(word).digest();
    v[h[0] % DIMENSIONS] += h[1] & 1 ? 1 : -1;
  }
  if (v.every((x) => x === 0)) v[0] = 1; // a text without words: a fixed direction
  const norm = Math.hypot(...v);
  return v.map((x) => Math.round((x / norm) * 1e6) / 1e6);
}
