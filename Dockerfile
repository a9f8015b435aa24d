# The image deploy/k8s runs: the checkout, installed from the lockfile and built (console + bundled CLI), so each
# process runs dist/cli/sneakernet.mjs without a TypeScript loader.
FROM node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build:web && npm run build:dist
USER node
ENTRYPOINT ["node", "bin/sneakernet.js"]
CMD ["serve", "--host", "0.0.0.0"]
