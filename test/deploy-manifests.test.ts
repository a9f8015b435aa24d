/** Containers cannot run here, so the deployment files are checked for shape: they parse and carry what each process needs. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';

const read = (p: string) => YAML.parseAllDocuments(fs.readFileSync(new URL(`../deploy/${p}`, import.meta.url), 'utf8')).map((d) => {
  expect(d.errors).toEqual([]);
  return d.toJS();
});

describe('deployment manifests', () => {
  it('the compose file runs api and worker on one PostgreSQL with the needed environment', () => {
    const [compose] = read('compose.yaml');
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'postgres', 'worker']);
    expect(compose.services.api.command).toContain('api');
    expect(compose.services.worker.command).toContain('worker');
    for (const s of ['api', 'worker']) {
      expect(compose.services[s].environment.DATABASE_URL).toMatch(/^postgres:\/\//);
      expect(compose.services[s].environment).toHaveProperty('SNEAKERNET_SECRET_KEY');
    }
  });

  it('the Kubernetes set has api and worker Deployments, a Service, a Secret and probes on /readyz and /healthz', () => {
    const docs = ['k8s/secret.yaml', 'k8s/api.yaml', 'k8s/worker.yaml'].flatMap(read);
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(kinds).toEqual(['Deployment/sneakernet-api', 'Deployment/sneakernet-worker', 'Secret/sneakernet', 'Service/sneakernet-api']);
    for (const d of docs) {
      expect(d.apiVersion).toBeTruthy();
      if (d.kind !== 'Deployment') continue;
      expect(d.spec.selector.matchLabels).toEqual(d.spec.template.metadata.labels);
      const c = d.spec.template.spec.containers[0];
      expect(c.envFrom[0].secretRef.name).toBe('sneakernet');
      expect(c.image).toBeTruthy();
      if (d.metadata.name.endsWith('api')) {
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
        expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      }
    }
    const secret = docs.find((d) => d.kind === 'Secret');
    expect(Object.keys(secret.stringData)).toEqual(expect.arrayContaining(['DATABASE_URL', 'SNEAKERNET_BOOTSTRAP_TOKEN', 'SNEAKERNET_SECRET_KEY']));
    const service = docs.find((d) => d.kind === 'Service');
    expect(service.spec.selector.component).toBe('api');
  });
});
