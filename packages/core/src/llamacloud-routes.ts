import type { EndpointClass } from './sim-contract.js';

/**
 * Every LlamaCloud route docpipe uses, with the endpoint class its requests count against
 * (`upload`, `create`, `read`: the same names in config, metrics and cloud-local). The client
 * takes its request budget by class; cloud-local rate-limits and counts by the same table.
 */
export const LLAMACLOUD_ROUTES: readonly { method: string; template: string; endpoint: EndpointClass }[] = [
  { method: 'POST', template: '/api/v1/beta/files', endpoint: 'upload' },
  { method: 'GET', template: '/api/v1/beta/files', endpoint: 'read' },
  { method: 'GET', template: '/api/v1/beta/files/:id', endpoint: 'read' },
  { method: 'GET', template: '/api/v1/beta/files/:id/content', endpoint: 'read' },
  { method: 'DELETE', template: '/api/v1/beta/files/:id', endpoint: 'create' },
  { method: 'POST', template: '/api/v1/beta/configurations', endpoint: 'create' },
  { method: 'GET', template: '/api/v1/beta/configurations', endpoint: 'read' },
  { method: 'GET', template: '/api/v1/beta/configurations/:id', endpoint: 'read' },
  { method: 'PUT', template: '/api/v1/beta/configurations/:id', endpoint: 'create' },
  { method: 'DELETE', template: '/api/v1/beta/configurations/:id', endpoint: 'create' },
  { method: 'POST', template: '/api/v1/beta/directories', endpoint: 'create' },
  { method: 'GET', template: '/api/v1/beta/directories', endpoint: 'read' },
  { method: 'GET', template: '/api/v1/beta/directories/:id', endpoint: 'read' },
  { method: 'PATCH', template: '/api/v1/beta/directories/:id', endpoint: 'create' },
  { method: 'DELETE', template: '/api/v1/beta/directories/:id', endpoint: 'create' },
  { method: 'POST', template: '/api/v1/beta/directories/:id/files', endpoint: 'create' },
  { method: 'POST', template: '/api/v1/beta/directories/:id/files/upload', endpoint: 'upload' },
  { method: 'GET', template: '/api/v1/beta/directories/:id/files', endpoint: 'read' },
  { method: 'GET', template: '/api/v1/beta/directories/:id/files/:fileId', endpoint: 'read' },
  { method: 'PATCH', template: '/api/v1/beta/directories/:id/files/:fileId', endpoint: 'create' },
  { method: 'DELETE', template: '/api/v1/beta/directories/:id/files/:fileId', endpoint: 'create' },
  { method: 'POST', template: '/api/v2/batches', endpoint: 'create' },
  { method: 'GET', template: '/api/v2/batches', endpoint: 'read' },
  { method: 'GET', template: '/api/v2/batches/:id', endpoint: 'read' },
  { method: 'POST', template: '/api/v2/batches/:id/cancel', endpoint: 'create' },
  { method: 'POST', template: '/api/v2/parse', endpoint: 'create' },
  { method: 'POST', template: '/api/v2/parse/upload', endpoint: 'upload' },
  { method: 'GET', template: '/api/v2/parse', endpoint: 'read' },
  { method: 'GET', template: '/api/v2/parse/versions', endpoint: 'read' },
  { method: 'GET', template: '/api/v2/parse/:id', endpoint: 'read' },
  { method: 'POST', template: '/api/v2/parse/:id/cancel', endpoint: 'create' },
  { method: 'DELETE', template: '/api/v2/parse/:id', endpoint: 'create' },
  { method: 'POST', template: '/api/v2/extract', endpoint: 'create' },
  { method: 'POST', template: '/api/v2/extract/schema/validation', endpoint: 'read' },
  { method: 'POST', template: '/api/v2/extract/schema/generate', endpoint: 'read' },
  { method: 'GET', template: '/api/v2/extract', endpoint: 'read' },
  { method: 'GET', template: '/api/v2/extract/:id', endpoint: 'read' },
  { method: 'POST', template: '/api/v2/extract/:id/cancel', endpoint: 'create' },
  { method: 'DELETE', template: '/api/v2/extract/:id', endpoint: 'create' },
];

const byRoute = new Map(LLAMACLOUD_ROUTES.map((r) => [`${r.method} ${r.template}`, r.endpoint]));

/** The endpoint class of a route template (`GET /api/v2/extract/:id` → `read`). */
export function endpointOf(method: string, template: string): EndpointClass {
  return byRoute.get(`${method} ${template}`) ?? (method === 'GET' ? 'read' : 'create');
}
