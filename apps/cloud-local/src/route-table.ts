import { LLAMACLOUD_ROUTES } from '@docpipe/core';

/** The route table is shared with docpipe's client (packages/core): one list of routes and classes. */
export const ROUTES = LLAMACLOUD_ROUTES;

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
