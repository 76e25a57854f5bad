# docpipe: one image for cloud-local, the API and the workers (the compose file picks the command).
FROM node:22-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:22-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
RUN mkdir -p /data && chown node:node /data
USER node
# Worker by default; compose runs the API and cloud-local from the same image.
CMD ["node", "apps/worker/dist/main.js"]
