# memshift: multi-stage build on a slim Node 20 image.
#   docker build -t memshift .
#   docker run -v $PWD/memshift.yml:/etc/memshift/memshift.yml:ro -p 11211:11211 memshift
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --ignore-scripts && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production MEMSHIFT_CONFIG=/etc/memshift/memshift.yml
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The node user, by number: Kubernetes' runAsNonRoot can check a numeric user only.
USER 1000:1000
# 11211: the memcached listener of the example config; 9121: the admin API (/metrics, /healthz, /readyz).
EXPOSE 11211 9121
# Healthy when the memshift of $MEMSHIFT_CONFIG serves: `memshift health` reads that config and asks
# its admin API's GET /readyz, or, without an admin listener, sends `version` to its first client
# listener; no port is written here. (Running `serve -c` with another file? Set MEMSHIFT_CONFIG to it.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "dist/cli.js", "health", "--timeout", "2s"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
