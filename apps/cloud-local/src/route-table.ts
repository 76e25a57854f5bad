import { LLAMACLOUD_ROUTES } from '@docpipe/core';

/** The route table is shared with docpipe's client (packages/core): one list of routes and classes. */
export const ROUTES = LLAMACLOUD_ROUTES;

const compiled = ROUTES.map((route) => ({
  ...route,
  params: route.template.split(':').length - 1,
  pattern: new RegExp(`^${route.template.replace(/:\w+/g, '[^/]+')}/?$`),
}));

/** The route a request hits; the one with fewer parameters wins (`/parse/versions` over `/parse/:id`). */
export function matchRoute(method: string, path: string) {
  const candidates = compiled.filter((route) => route.method === method && route.pattern.test(path));
  return candidates.sort((a, b) => a.params - b.params)[0];
}
