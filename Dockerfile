# syntax=docker/dockerfile:1
# kube-inspector controller and node agent image.
#
#   make docker-build            (or: docker build -t kube-inspector:dev .)
#
# Stage 1 compiles TypeScript with the dev dependencies; stage 2 holds only the
# production dependencies, the compiled code, and runs as a non-root user.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY crds ./crds
# 65532 is the conventional "nonroot" uid; the image needs no writable files of its own.
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["controller"]
