import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mixedDocuments } from '../support/fixtures.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';

const BILLING = 'sk-billing-0123456789abcdef';
const ADMIN = 'sk-admin-0123456789abcdef01';
let stack: Stack;
let base: string;

beforeAll(async () => {
  stack = await startStack({ env: { TIME_SCALE: '0.001' } });
  base = (await stack.startApi({ API_KEYS: `billing=${BILLING},admin=${ADMIN}` })).url;
});
afterAll(async () => {
  await stack?.stop();
});

const doc = mixedDocuments(1)[0]!;
const batch = (extra: Record<string, unknown> = {}) => ({
  files: [{ name: doc.name, content_base64: doc.bytes.toString('base64') }],
  extract: [{ name: 'invoice', data_schema: { type: 'object', properties: { n: { type: 'string' } } } }],
  ...extra,
});

async function call(method: string, path: string, key: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  // biome-ignore lint/suspicious/noExplicitAny: test reads of JSON answers
  return { status: response.status, body: (await response.json()) as any };
}

describe('tenants through the API', () => {
  it('takes the tenant from the key, lets only admin keys enqueue for another or set quotas', async () => {
    const own = await call('POST', '/v1/batches', BILLING, batch());
    expect(own).toMatchObject({ status: 201, body: { tenant: 'billing' } });

    const forbidden = await call('POST', '/v1/batches', BILLING, batch({ tenant: 'crm' }));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toMatchObject({ code: 'tenant_forbidden' });
    expect(forbidden.body.error.message).toMatch(/belongs to tenant "billing"/);

    const forCrm = await call('POST', '/v1/batches', ADMIN, batch({ tenant: 'crm' }));
    expect(forCrm).toMatchObject({ status: 201, body: { tenant: 'crm' } });
    expect((await call('POST', '/v1/batches', ADMIN, batch({ tenant: 'Bad Name' }))).status).toBe(400);

    expect((await call('PUT', '/v1/tenants/crm', BILLING, { weight: 2 })).status).toBe(403);
    const set = await call('PUT', '/v1/tenants/crm', ADMIN, { weight: 2, credits_per_day: 500 });
    expect(set).toMatchObject({ status: 200, body: { tenant: 'crm', weight: 2, credits_per_day: 500 } });
    const bad = await call('PUT', '/v1/tenants/crm', ADMIN, { weight: 0, colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/weight/);

    // A tenant's key sees its own tenant; an admin key sees all.
    const mine = await call('GET', '/v1/tenants', BILLING);
    expect(mine.body.items.map((t: { tenant: string }) => t.tenant)).toEqual(['billing']);
    expect(mine.body.items[0]).toMatchObject({ tenant: 'billing', weight: 1, admitted: 1 });
    const all = await call('GET', '/v1/tenants', ADMIN);
    expect(all.body.items.map((t: { tenant: string }) => t.tenant)).toEqual(['billing', 'crm']);
  });
});
