import * as cheerio from 'cheerio';
import type { ParsedDocument } from './parsed-document.js';
import { decodeText } from './text-document.js';

const BLOCKS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'div',
  'dl',
  'dt',
  'dd',
  'fieldset',
  'figure',
  'footer',
  'form',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hr',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'table',
  'tr',
  'ul',
  'br',
  'tbody',
  'thead',
  'tfoot',
  'caption',
]);

/**
 * HTML → one page of text and markdown. Block elements end lines; table rows become
 * `| a | b |` lines in markdown and tab-separated lines in text, so labels stay beside values.
 */
export function parseHtmlDocument(bytes: Uint8Array): ParsedDocument {
  const { text: source, encoding } = decodeText(bytes);
  const $ = cheerio.load(source);
  $('script, style, noscript, template, svg, head').remove();

  const textLines: string[] = [];
  const markdownLines: string[] = [];
  let current = '';
  const flush = () => {
    const line = current.replace(/\s+/g, ' ').trim();
    if (line) {
      textLines.push(line);
      markdownLines.push(line);
    }
    current = '';
  };

  const walk = (nodes: ReturnType<typeof $>) => {
    nodes.contents().each((_, node) => {
      if (node.type === 'text') {
        current += (node as unknown as { data: string }).data;
        return;
      }
      if (node.type !== 'tag') return;
      const element = $(node);
      const tag = (node as unknown as { tagName: string }).tagName.toLowerCase();
      if (tag === 'tr') {
        flush();
        const cells = element
          .children('td, th')
          .map((_, cell) => $(cell).text().replace(/\s+/g, ' ').trim())
          .get();
        if (cells.some(Boolean)) {
          textLines.push(cells.filter(Boolean).join('\t'));
          markdownLines.push(`| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
        }
        return;
      }
      if (BLOCKS.has(tag)) flush();
      if (/^h[1-6]$/.test(tag)) {
        const heading = element.text().replace(/\s+/g, ' ').trim();
        if (heading) {
          textLines.push(heading);
          markdownLines.push(`${'#'.repeat(Number(tag[1]))} ${heading}`);
        }
        return;
      }
      walk(element);
      if (BLOCKS.has(tag)) flush();
    });
  };
  walk($.root());
  flush();
  return {
    format: 'html',
    encoding,
    pages: [{ pageNumber: 1, text: textLines.join('\n'), markdown: markdownLines.join('\n') }],
  };
}
