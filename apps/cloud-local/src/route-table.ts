import type { EndpointClass } from '@docpipe/core';

/**
 * Every LlamaCloud route cloud-local serves, with the endpoint class its requests count against
 * (`upload`, `create`, `read`: the same names in docpipe's config and metrics). Stats and rate
 * limits name requests by these templates.
 */
export const ROUTES: readonly { method: string; template: string; endpoint: EndpointClass }[] = [
  { method: 'POST', template: '/api/v1/beta/files', endpoint: 'upload' },
  { method: 'GET', template: '/api/v1/beta/files', endpoint: 'read' },
  { method: 'GET', template: '/api/v1/beta/files/:id', endpoint: 'read' },
  { method: 'GET', template: '/api/v1/beta/files/:id/content', endpoint: 'read' },
  { method: 'DELETE', template: '/api/v1/beta/files/:id', endpoint: 'create' },
  { method: 'POST', template: '/api/v2/parse', endpoint: 'create' },
  { method: 'POST', template: '/api/v2/parse/upload', endpoint: 'upload' },
  { method: 'GET', template: '/api/v2/parse', endpoint: 'read' },
  { method: 'GET', template: '/api/v2/parse/versions', endpoint: 'read' },
  { method: 'GET', template: '/api/v2/parse/:id', endpoint: 'read' },
  { method: 'POST', template: '/api/v2/parse/:id/cancel', endpoint: 'create' },
  { method: 'DELETE', template: '/api/v2/parse/:id', endpoint: 'create' },
  { method: 'POST', template: '/api/v2/extract', endpoint: 'create' },
  { method: 'POST', template: '/api/v2/extract/schema/validation', endpoint: 'read' },
  { method: 'GET', template: '/api/v2/extract', endpoint: 'read' },
  { method: 'GET', template: '/api/v2/extract/:id', endpoint: 'read' },
  { method: 'POST', template: '/api/v2/extract/:id/cancel', endpoint: 'create' },
  { method: 'DELETE', template: '/api/v2/extract/:id', endpoint: 'create' },
];

const compiled = ROUTES.map((route) => ({
  ...route,
  literal: !route.template.includes(':'),
  pattern: new RegExp(`^${route.template.replace(/:id/g, '[^/]+')}/?$`),
}));

/** The route a request hits; literal routes win over `:id` ones (`/parse/versions`). */
export function matchRoute(method: string, path: string) {
  const candidates = compiled.filter((route) => route.method === method && route.pattern.test(path));
  return candidates.find((route) => route.literal) ?? candidates[0];
}
