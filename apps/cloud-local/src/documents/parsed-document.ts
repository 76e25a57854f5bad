/** A document turned into pages of plain text and markdown, as Parse v2 returns them. */
export interface ParsedPage {
  pageNumber: number;
  text: string;
  markdown: string;
}

export interface ParsedDocument {
  format: DocumentFormat;
  pages: ParsedPage[];
  /** Encoding the text was decoded from, for text formats. */
  encoding?: string;
}

export type DocumentFormat = 'pdf' | 'docx' | 'html' | 'text' | 'csv';

/**
 * A document that cannot be parsed: empty, corrupt, encrypted, unsupported or over a limit.
 * The job fails with this message; the server goes on serving.
 */
export class DocumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DocumentError';
  }
}
