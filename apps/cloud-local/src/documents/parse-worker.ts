/** Entry of a parse worker thread: parses one document per task, off the server's event loop. */
import { parseDocument } from './parse-document.js';
import { DocumentError, type ParsedDocument } from './parsed-document.js';

export interface ParseTask {
  name: string;
  bytes: Uint8Array;
}

export type ParseOutcome = { ok: true; document: ParsedDocument } | { ok: false; message: string };

export default async function parseTask(task: ParseTask): Promise<ParseOutcome> {
  try {
    return { ok: true, document: await parseDocument(task.name, task.bytes) };
  } catch (error) {
    const message =
      error instanceof DocumentError
        ? error.message
        : `The document could not be parsed: ${(error as Error).message}`;
    return { ok: false, message };
  }
}
