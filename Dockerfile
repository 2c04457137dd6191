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
# A live proxy answers `version` on 127.0.0.1:11211 (the example config's listener; change it with yours).
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD node -e "const s=require('net').connect(11211,'127.0.0.1',()=>s.write('version\r\n'));s.on('data',d=>process.exit(String(d).startsWith('VERSION')?0:1));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),2500)"
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
