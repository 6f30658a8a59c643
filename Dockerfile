# Multi-stage: dependencies are installed once in a build stage; the runtime image carries only what
# runs (production dependencies and the sources, owned by root so the process cannot rewrite its own
# code), as the unprivileged `node` user. bookworm-slim
# (glibc 2.36) suits the native uWS build we use. tests/deploy/compose.test.ts checks this file.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY shared ./shared
COPY admission ./admission
COPY inventory ./inventory
COPY settlement ./settlement
COPY gateway ./gateway
COPY bin ./bin
USER node
EXPOSE 9001
# The same image runs every role; docker-compose.yml picks one per service.
CMD ["node", "--import", "tsx", "gateway/main.ts"]
