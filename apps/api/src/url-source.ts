import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { ApiError } from './api-errors.js';

/** Addresses a batch may not make the API fetch from unless API_ALLOW_PRIVATE_URLS is on. */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  return PRIVATE.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Opens a file named by URL for streaming into the blob store: http(s) only; the host is
 * resolved once and, unless private addresses are allowed, every address it resolves to must be
 * public (SSRF guard); the connection then goes to that checked address, so a second DNS answer
 * cannot redirect it. Redirects are not followed. The caller bounds the size; `timeoutMs` bounds
 * the whole transfer.
 */
export async function openUrl(
  raw: string,
  options: { allowPrivate: boolean; timeoutMs: number; field: string },
): Promise<{ body: Readable; name: string; close(): Promise<void> }> {
  const fail = (message: string, status = 400) =>
    new ApiError(status, 'url_rejected', `${options.field}: ${message}`, { field: options.field, url: raw });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw fail('not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw fail(`only http and https URLs are fetched, not ${url.protocol}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
  } catch (error) {
    throw fail(`cannot resolve ${host} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const blocked = addresses.find((a) => isPrivateAddress(a.address));
  if (blocked && !options.allowPrivate)
    throw fail(
      `${host} resolves to ${blocked.address}, a loopback, private or link-local address; set API_ALLOW_PRIVATE_URLS=true to allow it`,
    );
  const target = addresses[0]!;
  const agent = new Agent({
    connect: {
      lookup: (_hostname, _opts, callback) =>
        callback(null, [{ address: target.address, family: target.family }]),
    },
  });
  const signal = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await request(url, { dispatcher: agent, signal, maxRedirections: 0 } as never);
    if (response.statusCode >= 300) {
      response.body.destroy();
      const where = response.headers.location
        ? ` (to ${String(response.headers.location)}; redirects are not followed)`
        : '';
      throw fail(`answered HTTP ${response.statusCode}${where}`, 422);
    }
    const name = decodeURIComponent(url.pathname.split('/').filter(Boolean).pop() ?? '') || host;
    return { body: Readable.from(response.body), name, close: () => agent.close() };
  } catch (error) {
    await agent.close();
    if (error instanceof ApiError) throw error;
    throw fail(`could not be fetched: ${(error as Error).message}`, 422);
  }
}
