# Multi-stage: the build stage compiles the TypeScript (`npm run build` → dist/, Lua, migrations and
# pages copied beside the compiled files); the runtime image carries only what runs (production
# dependencies and dist/, owned by root so the process cannot rewrite its own code), run by node itself
# (no tsx) as the unprivileged `node` user. bookworm-slim (glibc 2.36) suits the native uWS build we
# use, which exists for Node 20's ABI (package.json `engines`). tests/deploy/compose.test.ts checks this file.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared ./shared
COPY admission ./admission
COPY inventory ./inventory
COPY settlement ./settlement
COPY gateway ./gateway
COPY bin ./bin
RUN npm run build

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 9001
# The same image runs every role; docker-compose.yml picks one per service.
CMD ["node", "dist/gateway/main.js"]
