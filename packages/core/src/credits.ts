import { inflateSync } from 'node:zlib';
import type { Config } from './config.js';
import type { BatchSpec } from './records.js';

/** Credits per page of Extract v2 by tier, as the SDK 2.16 documents them (config may override). */
export const EXTRACT_CREDITS_PER_PAGE: Readonly<Record<string, number>> = {
  cost_effective: 5,
  agentic: 15,
  agentic_plus: 50,
  turbo: 35,
};

/** Credits per page of Parse v2 by tier. */
export const PARSE_CREDITS_PER_PAGE: Readonly<Record<string, number>> = {
  fast: 1,
  cost_effective: 3,
  agentic: 10,
  agentic_plus: 45,
};

/**
 * Pages a document will be billed for, estimated before anything is sent: a PDF's page objects
 * (`/Type /Page`, not `/Pages`), including those inside compressed object streams; one page for
 * everything else (LlamaCloud bills DOCX, HTML and text per rendered page; one is the floor).
 * Used to reserve budget, then settled with the credits LlamaCloud reports.
 */
export function estimatePages(bytes: Uint8Array, name: string): number {
  if (!name.toLowerCase().endsWith('.pdf')) return 1;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buffer.toString('latin1');
  let pages = countPageObjects(text);
  // PDF 1.5+ keeps most objects, page objects too, in deflated object streams.
  for (const match of text.matchAll(/\/Type\s*\/ObjStm/g)) {
    const start = text.indexOf('stream', match.index);
    const end = start < 0 ? -1 : text.indexOf('endstream', start);
    if (end < 0) continue;
    const body = buffer.subarray(start + (text[start + 6] === '\r' ? 8 : 7), end);
    try {
      pages += countPageObjects(inflateSync(body, { maxOutputLength: 64 << 20 }).toString('latin1'));
    } catch {
      // not deflated, or damaged: the parser will say so; the estimate goes on without it
    }
  }
  return Math.max(1, pages);
}

const countPageObjects = (text: string) => text.match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;

/** What one file of a batch is expected to cost: its parse (if any) and every extraction. */
export function estimateFileCredits(
  spec: BatchSpec,
  pages: number,
  parses: boolean,
  creditsPerPage: Config['creditsPerPage'],
): number {
  const parse = parses ? (PARSE_CREDITS_PER_PAGE[spec.parse?.tier ?? 'cost_effective'] ?? 3) : 0;
  const extract = spec.extract.reduce(
    (sum, extraction) =>
      sum + (creditsPerPage[extraction.tier] ?? EXTRACT_CREDITS_PER_PAGE[extraction.tier] ?? 5),
    0,
  );
  return pages * (parse + extract);
}
