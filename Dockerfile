# The users-api image: one image for both Deployments (gateway and users).
#   docker build -t users-api:1.0.0 .        minikube: minikube image build -t users-api:dev .
# Node 24 is pinned to the version package.json's devDependency `node` uses
# (pinned by tag; add @sha256:<digest> once you have pulled it).

# --- build: every dependency, TypeScript compiled to dist/ ------------------
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the devDependency `node`'s would download a second Node,
# which the lockfile's integrity hashes do not cover; this image has Node already.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and dist/ only, as a non-root user ----
FROM node:24.21.0-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=8080
WORKDIR /app
# package.json is read at run time too (service.version).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The image's `node` user, by number so that runAsNonRoot can verify it.
# The files above stay owned by root: the process cannot change its own code.
USER 1000:1000
EXPOSE 8080
# --require loads tracing before express and http (src/instrumentation.ts).
CMD ["node", "--require", "./dist/instrumentation.js", "dist/server.js"]
