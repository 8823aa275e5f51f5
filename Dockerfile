# The service image used by docker-compose.yml, on Node 22 (LTS until April 2027), the version the
# service supports: package.json `engines` and the README say the same (test/engines.test.ts), and
# some dependencies (fastify's light-my-request through cookie 2, @fastify/static) require it.
FROM node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev --ignore-scripts
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000
EXPOSE 8000
# exec: node replaces the shell as PID 1, so SIGTERM reaches it and drains requests in flight.
CMD ["sh", "-c", "node dist/scripts/migrate.js && exec node dist/src/server.js"]
