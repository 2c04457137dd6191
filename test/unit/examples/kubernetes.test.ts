/**
 * The Kubernetes, Prometheus and Grafana examples (issue 7) stay honest: every manifest passes the
 * Kubernetes (and Prometheus Operator) schemas, the sidecar is wired the way docs/operations.md says
 * (native sidecar, probes on the admin port, drain on shutdown, the app pointed at the loopback
 * listener), the embedded memshift.yml passes memshift's own parser and agrees with the pod spec,
 * and every metric name the alerts and the dashboard use is a real family listed in docs/operations.md.
 * The TLS variant (deployment-tls.yaml, certificate.yaml, podmonitor-tls.yaml) mounts its Secrets as
 * directories, and its memshift.yml passes `memshift check` without a warning once certificates made
 * by openssl stand where the Secrets are mounted.
 *
 * Note: kubernetes-models' `validate()` checks types, enums and required fields; like the API
 * server's non-strict decoding, it accepts unknown fields, so the fields that matter are also
 * asserted by name below.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { PodMonitor, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Certificate, Issuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { parseConfig } from '../../../src/config/index.js';
import { certificateFiles, configWarnings } from '../../../src/config/warnings.js';
import type { ConfigSummary } from '../../../src/cli/check.js';
import { tlsFamilies } from '../../../src/app/metrics/tls-metrics.js';
import { makeCerts, signedCert } from '../../support/tls-certs.js';
import { run } from '../cli/helpers.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { proxyFamilies } from '../../../src/app/metrics/proxy-metrics.js';
import { backendFamilies } from '../../../src/app/metrics/backend-metrics.js';
import { replicationFamilies } from '../../../src/app/metrics/replication-metrics.js';
import { migrationFamilies } from '../../../src/app/metrics/migration-metrics.js';
import { reloadFamilies } from '../../../src/app/metrics/reload-metrics.js';
import { discoveryFamilies, loadFamilies } from '../../../src/app/metrics/discovery-metrics.js';
import { ReloadCounters } from '../../../src/app/reload.js';
import { ProxyStats } from '../../../src/proxy/stats.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const K8S_DIR = join(ROOT, 'examples/kubernetes');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Obj = Record<string, unknown>;
interface Validatable {
  validate(): void;
}

/** The model class for each apiVersion/kind the examples may use. */
const MODELS: Record<string, (data: Obj) => Validatable> = {
  'v1/ConfigMap': (d) => new ConfigMap(d as ConstructorParameters<typeof ConfigMap>[0]),
  'v1/Secret': (d) => new Secret(d as ConstructorParameters<typeof Secret>[0]),
  'v1/Service': (d) => new Service(d as ConstructorParameters<typeof Service>[0]),
  'apps/v1/Deployment': (d) => new Deployment(d as ConstructorParameters<typeof Deployment>[0]),
  'apps/v1/StatefulSet': (d) => new StatefulSet(d as ConstructorParameters<typeof StatefulSet>[0]),
  'monitoring.coreos.com/v1/PodMonitor': (d) => new PodMonitor(d as ConstructorParameters<typeof PodMonitor>[0]),
  'monitoring.coreos.com/v1/ServiceMonitor': (d) => new ServiceMonitor(d as ConstructorParameters<typeof ServiceMonitor>[0]),
  'cert-manager.io/v1/Certificate': (d) => new Certificate(d as ConstructorParameters<typeof Certificate>[0]),
  'cert-manager.io/v1/Issuer': (d) => new Issuer(d as ConstructorParameters<typeof Issuer>[0]),
};

interface Manifest {
  file: string;
  data: Obj;
}

/** Every document of every examples/kubernetes/*.yaml, read as YAML 1.2 (and required to read the same as YAML 1.1, as kubectl does). */
function loadManifests(): Manifest[] {
  const files = readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml')).sort();
  const out: Manifest[] = [];
  for (const file of files) {
    const text = readFileSync(join(K8S_DIR, file), 'utf8');
    const docs = parseAllDocuments(text, { uniqueKeys: true });
    const docs11 = parseAllDocuments(text, { version: '1.1', uniqueKeys: true });
    if (!Array.isArray(docs) || !Array.isArray(docs11)) throw new Error(`${file}: no YAML documents`);
    docs.forEach((doc, i) => {
      expect(doc.errors, `${file} document ${i + 1}`).toEqual([]);
      expect(doc.warnings, `${file} document ${i + 1}`).toEqual([]);
      const data: unknown = doc.toJS();
      if (data === null || data === undefined) return; // an empty document (a trailing ---)
      // No octal modes, yes/no booleans or other values that YAML 1.1 (kubectl) reads differently.
      expect(docs11[i]!.toJS(), `${file} document ${i + 1} under YAML 1.1`).toEqual(data);
      out.push({ file, data: data as Obj });
    });
  }
  return out;
}

const manifests = loadManifests();

function one<T>(kind: string, build: (d: Obj) => T, file?: string): T {
  const found = manifests.filter((m) => m.data.kind === kind && (file === undefined || m.file === file));
  expect(found.map((m) => `${m.file}: ${kind}`), `exactly one ${kind}${file ? ` in ${file}` : ''}`).toHaveLength(1);
  return build(found[0]!.data);
}

const deployment = one('Deployment', (d) => new Deployment(d as ConstructorParameters<typeof Deployment>[0]), 'deployment.yaml');
const configMap = one('ConfigMap', (d) => new ConfigMap(d as ConstructorParameters<typeof ConfigMap>[0]), 'deployment.yaml');
const secret = one('Secret', (d) => new Secret(d as ConstructorParameters<typeof Secret>[0]), 'deployment.yaml');
const service = one('Service', (d) => new Service(d as ConstructorParameters<typeof Service>[0]), 'servicemonitor.yaml');
const podMonitor = one('PodMonitor', (d) => new PodMonitor(d as ConstructorParameters<typeof PodMonitor>[0]), 'podmonitor.yaml');
const serviceMonitor = one('ServiceMonitor', (d) => new ServiceMonitor(d as ConstructorParameters<typeof ServiceMonitor>[0]), 'servicemonitor.yaml');

const podSpec = deployment.spec!.template.spec!;
const podMeta = deployment.spec!.template.metadata!;
const memshift = (podSpec.initContainers ?? []).find((c) => c.name === 'memshift')!;
const app = podSpec.containers.find((c) => c.name === 'app')!;
const adminPort = memshift?.ports?.find((p) => p.name === 'admin')?.containerPort;
const configText = configMap.data?.['memshift.yml'] ?? '';

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

describe('examples/kubernetes', () => {
  it('holds the expected documents', () => {
    expect(manifests.map((m) => `${m.file}: ${String(m.data.kind)}`)).toEqual([
      'certificate.yaml: Issuer',
      'certificate.yaml: Certificate',
      'certificate.yaml: Certificate',
      'deployment-tls.yaml: ConfigMap',
      'deployment-tls.yaml: Secret',
      'deployment-tls.yaml: Deployment',
      'deployment.yaml: ConfigMap',
      'deployment.yaml: Secret',
      'deployment.yaml: Deployment',
      'discovery.yaml: ConfigMap',
      'memcached.yaml: Service',
      'memcached.yaml: StatefulSet',
      'podmonitor-tls.yaml: PodMonitor',
      'podmonitor.yaml: PodMonitor',
      'servicemonitor.yaml: Service',
      'servicemonitor.yaml: ServiceMonitor',
    ]);
  });

  it.each(manifests.map((m) => [`${m.file}: ${String(m.data.kind)} ${String((m.data.metadata as Obj | undefined)?.name)}`, m] as const))(
    '%s passes its schema',
    (_name, m) => {
      const model = MODELS[`${String(m.data.apiVersion)}/${String(m.data.kind)}`];
      expect(model, `a model for ${String(m.data.apiVersion)} ${String(m.data.kind)}`).toBeDefined();
      expect(() => model!(m.data).validate()).not.toThrow();
    },
  );

  it('discovery.yaml: the pool takes its servers from the SRV records of memcached.yaml\'s headless Service', () => {
    const discovered = one('ConfigMap', (d) => new ConfigMap(d as ConstructorParameters<typeof ConfigMap>[0]), 'discovery.yaml');
    expect(discovered.metadata?.name).toBe(configMap.metadata?.name);
    const pool = parseConfig(discovered.data?.['memshift.yml'] ?? '', 'discovery.yaml').pools.get('main')!;
    const dns = pool.groups[0]?.discovery?.dns ?? '';
    const svc = one('Service', (d) => new Service(d as ConstructorParameters<typeof Service>[0]), 'memcached.yaml');
    const set = one('StatefulSet', (d) => new StatefulSet(d as ConstructorParameters<typeof StatefulSet>[0]), 'memcached.yaml');
    expect(svc.spec?.clusterIP).toBe('None');
    expect(set.spec?.serviceName).toBe(svc.metadata?.name);
    expect(matches(svc.spec?.selector, set.spec?.template.metadata?.labels)).toBe(true);
    const port = svc.spec?.ports?.[0];
    expect(dns).toBe(`_${String(port?.name)}._${String(port?.protocol).toLowerCase()}.${String(svc.metadata?.name)}.default.svc.cluster.local`);
    expect(pool.autopilot).toMatchObject({ migrate: 'approve' });
  });

  it('runs memshift as a native sidecar: an init container with restartPolicy Always', () => {
    expect(memshift, 'initContainers[name=memshift]').toBeDefined();
    expect(memshift.restartPolicy).toBe('Always');
    expect(memshift.image).toBe('memshift:latest');
    expect(memshift.args).toEqual(['serve', '-c', '/etc/memshift/memshift.yml']);
    expect(podSpec.containers.map((c) => c.name)).not.toContain('memshift');
  });

  it('probes the admin port: liveness /healthz, readiness /readyz, and a startup probe', () => {
    expect(adminPort).toBe(9121);
    const isAdmin = (port: number | string | undefined): boolean => port === 'admin' || port === adminPort;
    expect(memshift.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(isAdmin(memshift.livenessProbe?.httpGet?.port)).toBe(true);
    expect(memshift.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(isAdmin(memshift.readinessProbe?.httpGet?.port)).toBe(true);
    expect(memshift.startupProbe).toBeDefined();
    const startup = memshift.startupProbe!;
    if (startup.httpGet) expect(isAdmin(startup.httpGet.port) && ['/healthz', '/readyz'].includes(startup.httpGet.path ?? '')).toBe(true);
    expect(memshift.ports?.find((p) => p.containerPort === 11211)).toBeDefined();
  });

  it('lets memshift drain: a preStop sleep within terminationGracePeriodSeconds', () => {
    const preStop = memshift.lifecycle?.preStop;
    expect(preStop, 'lifecycle.preStop').toBeDefined();
    const command = preStop!.exec?.command ?? [];
    const seconds = preStop!.sleep?.seconds ?? (command[0] === '/bin/sleep' ? Number(command[1]) : Number.NaN);
    expect(seconds).toBeGreaterThan(0);
    // Time left after the sleep for the drain (memshift waits at most 10 s for requests in flight).
    expect(podSpec.terminationGracePeriodSeconds ?? 30).toBeGreaterThanOrEqual(seconds + 10);
  });

  it('locks memshift down and sizes it', () => {
    const sc = memshift.securityContext;
    expect(sc?.runAsNonRoot).toBe(true);
    expect(sc?.readOnlyRootFilesystem).toBe(true);
    expect(sc?.allowPrivilegeEscalation).toBe(false);
    // The image's USER is a name (node); the kubelet can only check runAsNonRoot against a numeric uid.
    expect(sc?.runAsUser).toBeGreaterThan(0);
    for (const kind of ['requests', 'limits'] as const) {
      expect(memshift.resources?.[kind]?.memory, `resources.${kind}.memory`).toBeDefined();
    }
    expect(memshift.resources?.requests?.cpu).toBeDefined();
  });

  it('mounts the ConfigMap as a directory (so updates reach it) and the token Secret', () => {
    const mount = (path: string) => memshift.volumeMounts?.find((m) => m.mountPath === path);
    const volume = (name: string | undefined) => podSpec.volumes?.find((v) => v.name === name);
    const config = mount('/etc/memshift');
    expect(config?.subPath, 'a subPath mount never sees ConfigMap updates').toBeUndefined();
    expect(volume(config?.name)?.configMap?.name).toBe(configMap.metadata?.name);
    expect(configMap.metadata?.name).toBe('memshift-config');
    const token = mount('/etc/memshift-token');
    expect(volume(token?.name)?.secret?.secretName).toBe(secret.metadata?.name);
    expect(secret.metadata?.name).toBe('memshift-admin-token');
    expect(Object.keys(secret.stringData ?? {})).toEqual(['token']);
    expect(secret.stringData?.token).toMatch(/REPLACE/); // a placeholder, never a real token
  });

  it('points the app at the sidecar: MEMCACHED_SERVERS=127.0.0.1:11211', () => {
    expect(app, 'containers[name=app]').toBeDefined();
    expect(app.env?.find((e) => e.name === 'MEMCACHED_SERVERS')?.value).toBe('127.0.0.1:11211');
  });

  it('annotates the pods for Prometheus scraping on the admin port', () => {
    expect(podMeta.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(adminPort), 'prometheus.io/path': '/metrics' });
  });

  it('selects its own pods', () => {
    expect(matches(deployment.spec!.selector.matchLabels, podMeta.labels)).toBe(true);
  });

  it("embeds a memshift.yml that memshift's parser accepts, consistent with the pod spec", () => {
    const config = parseConfig(configText, 'memshift-config/memshift.yml');
    expect(config.admin?.port).toBe(adminPort);
    expect(config.admin?.host, 'the kubelet and Prometheus reach the pod IP').toBe('0.0.0.0');
    expect(config.listen).toContainEqual(expect.objectContaining({ kind: 'tcp', host: '127.0.0.1', port: 11211 }));
    expect(config.admin?.tokenFile?.startsWith('/etc/memshift-token/')).toBe(true);
    expect(Object.keys(secret.stringData ?? {})).toContain(config.admin!.tokenFile!.slice('/etc/memshift-token/'.length));
    expect([...config.pools.keys()]).toEqual(['main']);
    expect(config.pools.get('main')!.servers.map((s) => s.address)).toEqual([
      'memcached-0.memcached:11211',
      'memcached-1.memcached:11211',
      'memcached-2.memcached:11211',
    ]);
  });

  it('PodMonitor scrapes the admin port of the same pods', () => {
    expect(matches(podMonitor.spec.selector.matchLabels, podMeta.labels)).toBe(true);
    expect(podMonitor.spec.podMetricsEndpoints).toEqual([expect.objectContaining({ port: 'admin', path: '/metrics' })]);
  });

  it('Service + ServiceMonitor scrape the admin port of the same pods', () => {
    expect(matches(service.spec?.selector, podMeta.labels)).toBe(true);
    const port = service.spec?.ports?.find((p) => p.name === 'admin');
    expect(port?.port).toBe(adminPort);
    // A number: a named targetPort on a native sidecar resolves only from Kubernetes 1.32.
    expect(port?.targetPort).toBe(adminPort);
    expect(matches(serviceMonitor.spec.selector.matchLabels, service.metadata?.labels)).toBe(true);
    expect(serviceMonitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'admin', path: '/metrics' })]);
  });
});

// ---- the TLS variant: deployment-tls.yaml, certificate.yaml, podmonitor-tls.yaml ----

const tlsDeployment = one('Deployment', (d) => new Deployment(d as ConstructorParameters<typeof Deployment>[0]), 'deployment-tls.yaml');
const tlsConfigMap = one('ConfigMap', (d) => new ConfigMap(d as ConstructorParameters<typeof ConfigMap>[0]), 'deployment-tls.yaml');
const credentials = one('Secret', (d) => new Secret(d as ConstructorParameters<typeof Secret>[0]), 'deployment-tls.yaml');
const tlsPodMonitor = one('PodMonitor', (d) => new PodMonitor(d as ConstructorParameters<typeof PodMonitor>[0]), 'podmonitor-tls.yaml');
const issuer = one('Issuer', (d) => new Issuer(d as ConstructorParameters<typeof Issuer>[0]), 'certificate.yaml');
const certificates = manifests.filter((m) => m.file === 'certificate.yaml' && m.data.kind === 'Certificate').map((m) => new Certificate(m.data as ConstructorParameters<typeof Certificate>[0]));
const memshiftCert = certificates.find((c) => c.metadata?.name === 'memshift-tls')!;
const memcachedCert = certificates.find((c) => c.metadata?.name === 'memcached-tls')!;

const tlsPod = tlsDeployment.spec!.template.spec!;
const tlsPodMeta = tlsDeployment.spec!.template.metadata!;
const tlsMemshift = (tlsPod.initContainers ?? []).find((c) => c.name === 'memshift')!;
const tlsConfigText = tlsConfigMap.data?.['memshift.yml'] ?? '';
const secretOf = (mountPath: string): string | undefined => {
  const mount = tlsMemshift.volumeMounts?.find((m) => m.mountPath === mountPath);
  return tlsPod.volumes?.find((v) => v.name === mount?.name)?.secret?.secretName;
};
const rawOf = (file: string, kind: string): Obj => manifests.find((m) => m.file === file && m.data.kind === kind)!.data;
/** cert-manager durations as the examples write them: whole hours. */
const hours = (d: string | undefined): number => Number(/^(\d+)h$/.exec(d ?? '')?.[1] ?? Number.NaN);

/**
 * The pod's files on this machine: each Secret volume memshift mounts becomes a directory holding what
 * that Secret carries (the TLS Secret: a certificate with memshift-tls's names and usages, its key and
 * the CA, made by openssl; the credentials: the placeholders), and the ConfigMap's memshift.yml reads
 * those directories instead of the mount paths. Nothing else in the config changes.
 */
function podFiles(): { text: string; dirs: string[] } {
  const certs = makeCerts();
  cleanups.push(certs.dir);
  const san = (memshiftCert.spec.dnsNames ?? []).map((n) => `DNS:${n}`).join(',');
  signedCert(certs.dir, 'memshift', `subjectAltName=${san}\nextendedKeyUsage=clientAuth,serverAuth\n`, 60);
  const tlsSecret: Record<string, string> = { 'tls.crt': join(certs.dir, 'memshift.pem'), 'tls.key': join(certs.dir, 'memshift-key.pem'), 'ca.crt': certs.ca };
  let text = tlsConfigText;
  const dirs: string[] = [];
  for (const mount of tlsMemshift.volumeMounts ?? []) {
    const secretName = secretOf(mount.mountPath);
    if (secretName === undefined) continue;
    const dir = mkdtempSync(join(tmpdir(), 'memshift-k8s-secret-'));
    cleanups.push(dir);
    if (secretName === memshiftCert.spec.secretName) for (const [key, from] of Object.entries(tlsSecret)) copyFileSync(from, join(dir, key));
    else if (secretName === credentials.metadata?.name) for (const [key, value] of Object.entries(credentials.stringData ?? {})) writeFileSync(join(dir, key), `${value}\n`);
    else throw new Error(`${mount.mountPath}: Secret ${secretName} is neither memshift-tls's nor the credentials`);
    text = text.replaceAll(`${mount.mountPath}/`, `${dir}/`);
    dirs.push(dir);
  }
  return { text, dirs };
}

const cleanups: string[] = [];
afterAll(() => {
  for (const dir of cleanups) rmSync(dir, { recursive: true, force: true });
});

describe('examples/kubernetes with TLS', () => {
  const pod = podFiles();
  const config = parseConfig(pod.text, 'memshift-tls-config/memshift.yml');
  const main = config.pools.get('main')!;

  it('runs the same native sidecar as deployment.yaml, with HTTPS probes and the Secrets mounted', () => {
    const containerOf = (file: string): Obj => {
      const spec = ((rawOf(file, 'Deployment').spec as Obj).template as Obj).spec as { initContainers: Obj[] };
      const { startupProbe: _s, livenessProbe: _l, readinessProbe: _r, volumeMounts: _v, ...rest } = spec.initContainers.find((c) => c.name === 'memshift')!;
      return rest;
    };
    expect(containerOf('deployment-tls.yaml')).toEqual(containerOf('deployment.yaml'));
    for (const probe of [tlsMemshift.startupProbe, tlsMemshift.livenessProbe, tlsMemshift.readinessProbe]) {
      expect(probe?.httpGet).toMatchObject({ port: 'admin', scheme: 'HTTPS' });
    }
    expect(tlsPod.terminationGracePeriodSeconds).toBe(podSpec.terminationGracePeriodSeconds);
    expect(tlsPod.containers.find((c) => c.name === 'app')?.env?.find((e) => e.name === 'MEMCACHED_SERVERS')?.value).toBe('127.0.0.1:11211');
    expect(matches(tlsDeployment.spec!.selector.matchLabels, tlsPodMeta.labels)).toBe(true);
  });

  it('mounts the config and both Secrets as read-only directories: no subPath, so a rotation reaches them', () => {
    for (const mount of tlsMemshift.volumeMounts ?? []) {
      expect(mount.subPath, `${mount.mountPath}: a subPath mount is never updated`).toBeUndefined();
      expect(mount.subPathExpr, mount.mountPath).toBeUndefined();
    }
    const volume = (mountPath: string) => tlsPod.volumes?.find((v) => v.name === tlsMemshift.volumeMounts?.find((m) => m.mountPath === mountPath)?.name);
    expect(volume('/etc/memshift')?.configMap?.name).toBe(tlsConfigMap.metadata?.name);
    expect(tlsMemshift.volumeMounts?.filter((m) => secretOf(m.mountPath) !== undefined).map((m) => [m.mountPath, m.readOnly, secretOf(m.mountPath)])).toEqual([
      ['/etc/memshift-tls', true, 'memshift-tls'],
      ['/etc/memshift-credentials', true, 'memshift-credentials'],
    ]);
    expect(Object.keys(credentials.stringData ?? {}).sort()).toEqual(['admin-token', 'memcached-password']);
    for (const value of Object.values(credentials.stringData ?? {})) expect(value).toMatch(/REPLACE/); // placeholders, never a secret
  });

  it('passes memshift check without a warning once the Secrets are in place', async () => {
    const file = join(pod.dirs[0]!, 'memshift.yml');
    writeFileSync(file, pod.text);
    const r = await run(['check', '--json', '-c', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout) as ConfigSummary;
    expect(summary.warnings).toEqual([]);
    expect(summary.listen).toEqual(['127.0.0.1:11211']);
    expect(configWarnings(config, Date.now(), '')).toEqual([]);
  });

  it('talks mutual TLS and ASCII auth to the servers, checking the name memcached-tls is issued for', () => {
    expect(main.servers.map((s) => s.address)).toEqual(['memcached-0.memcached:11211', 'memcached-1.memcached:11211', 'memcached-2.memcached:11211']);
    expect(main.tls).toMatchObject({ verify: true });
    for (const f of ['caFile', 'certFile', 'keyFile'] as const) expect(main.tls?.[f], `tls ${f}`).toBeDefined();
    expect(memcachedCert.spec.dnsNames).toContain(main.tls?.serverName);
    expect(main.servers.every((s) => s.tls === main.tls && s.auth?.username === 'app')).toBe(true);
  });

  it('serves the admin API over HTTPS on the pod IP with a token, without client certificates (the probes have none)', () => {
    expect(config.admin?.host).toBe('0.0.0.0');
    expect(config.admin?.port).toBe(tlsMemshift.ports?.find((p) => p.name === 'admin')?.containerPort);
    expect(config.admin?.tls).toBeDefined();
    expect(config.admin?.tls?.clientCaFile).toBeUndefined();
    expect(config.admin?.tokenFile).toBeDefined();
  });

  it('names only files in the mounted Secrets, each one there', () => {
    const named = [
      main.tls?.caFile,
      main.tls?.certFile,
      main.tls?.keyFile,
      main.auth?.passwordFile,
      config.admin?.tokenFile,
      config.admin?.tls?.certFile,
      config.admin?.tls?.keyFile,
      ...certificateFiles(config).map((c) => c.file),
    ];
    for (const f of named) {
      expect(pod.dirs.some((d) => f?.startsWith(`${d}/`)), `${f}: in a mounted Secret`).toBe(true);
      expect(existsSync(f!), `${f}: a key of its Secret`).toBe(true);
    }
  });

  it('exports the expiry of each certificate file it names, once per file (tls.crt serves the pool and the admin API)', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.add(...tlsFamilies(() => config));
    const series = (await metrics.text()).split('\n').filter((l) => l.startsWith('memshift_tls_cert_expiry_seconds{'));
    const label = (l: string, name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(l)?.[1];
    expect(series.map((l) => [label(l, 'file'), label(l, 'use')])).toEqual([
      [main.tls?.certFile, 'pools.main client certificate'],
      [main.tls?.caFile, 'pools.main server CA'],
    ]);
    expect(config.admin?.tls?.certFile).toBe(main.tls?.certFile);
    for (const l of series) expect(Number(l.split(' ').at(-1))).toBeGreaterThan(14 * 86_400);
  });

  it('certificate.yaml: cert-manager writes the Secret the pod mounts, for both uses, renewed before memshift warns', () => {
    expect(memshiftCert.spec.secretName).toBe(secretOf('/etc/memshift-tls'));
    expect(memshiftCert.spec.usages).toEqual(expect.arrayContaining(['client auth', 'server auth']));
    expect(memcachedCert.spec.usages).toContain('server auth');
    for (const c of certificates) {
      expect(c.spec.issuerRef).toEqual({ name: issuer.metadata?.name, kind: 'Issuer', group: 'cert-manager.io' });
      // memshift check and the log warn 14 days (336 h) before the end: renewal comes first.
      expect(hours(c.spec.renewBefore), c.metadata?.name).toBeGreaterThan(14 * 24);
      expect(hours(c.spec.duration), c.metadata?.name).toBeGreaterThan(hours(c.spec.renewBefore));
    }
    expect(issuer.spec.ca?.secretName).toBeTruthy();
  });

  it('podmonitor-tls.yaml scrapes the app-tls pods over HTTPS, trusting ca.crt for the admin certificate', () => {
    expect(matches(tlsPodMonitor.spec.selector.matchLabels, tlsPodMeta.labels)).toBe(true);
    expect(matches(podMonitor.spec.selector.matchLabels, tlsPodMeta.labels), "podmonitor.yaml's plain HTTP scrape").toBe(false);
    expect(matches(tlsPodMonitor.spec.selector.matchLabels, podMeta.labels)).toBe(false);
    expect(tlsPodMeta.annotations?.['prometheus.io/scrape'], "prometheus.yml's annotation job scrapes plain HTTP").toBeUndefined();
    const [endpoint, ...more] = tlsPodMonitor.spec.podMetricsEndpoints ?? [];
    expect(more).toEqual([]);
    expect(endpoint).toMatchObject({ port: 'admin', path: '/metrics', scheme: 'https' });
    expect(endpoint?.tlsConfig?.insecureSkipVerify).not.toBe(true);
    expect(endpoint?.tlsConfig?.ca?.secret).toEqual({ name: memshiftCert.spec.secretName, key: 'ca.crt' });
    expect(memshiftCert.spec.dnsNames).toContain(endpoint?.tlsConfig?.serverName);
  });
});

// ---- Prometheus and Grafana ----

const alertsText = read('examples/prometheus/alerts.yml');
const dashboardText = read('examples/grafana/memshift-dashboard.json');

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: { severity?: unknown };
  annotations?: { summary?: unknown };
}

describe('examples/prometheus', () => {
  it('alerts.yml: every rule has alert, expr, for, labels.severity and annotations.summary', () => {
    const doc = parse(alertsText, { uniqueKeys: true }) as { groups?: { name?: unknown; rules?: Rule[] }[] };
    expect(doc.groups?.length).toBeGreaterThan(0);
    const names: string[] = [];
    for (const group of doc.groups!) {
      expect(typeof group.name).toBe('string');
      expect(group.rules?.length, `group ${String(group.name)}`).toBeGreaterThan(0);
      for (const rule of group.rules!) {
        const name = String(rule.alert);
        expect(typeof rule.alert, `group ${String(group.name)}: a rule without alert`).toBe('string');
        expect(typeof rule.expr, name).toBe('string');
        expect(String(rule.expr), name).toMatch(/memshift_/);
        expect(String(rule.for), `${name}: for`).toMatch(/^\d+[smhd]$/);
        expect(['critical', 'warning', 'info'], `${name}: labels.severity`).toContain(rule.labels?.severity);
        expect(typeof rule.annotations?.summary, `${name}: annotations.summary`).toBe('string');
        names.push(name);
      }
    }
    expect(new Set(names).size, 'unique alert names').toBe(names.length);
    for (const expected of [
      'MemshiftBackendTKO',
      'MemshiftBackendDown',
      'MemshiftClientErrorRateHigh',
      'MemshiftBackendErrorRateHigh',
      'MemshiftBackendLatencyHigh',
      'MemshiftMigrationStalled',
      'MemshiftConfigReloadFailed',
      'MemshiftWriteLogNeedsResync',
      'MemshiftDiscoveryFailing',
      'MemshiftDiscoveryFlapping',
      'MemshiftDiscoveryChangeRefused',
      'MemshiftDiscoveryLoadImbalanced',
    ]) {
      expect(names).toContain(expected);
    }
  });

  // Prometheus's own check of the rules' syntax and PromQL, where promtool is installed (Debian: prometheus).
  const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
  it.skipIf(promtool === undefined)('alerts.yml passes promtool check rules', () => {
    expect(execFileSync(promtool!, ['check', 'rules', join(ROOT, 'examples/prometheus/alerts.yml')], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('prometheus.yml loads alerts.yml and scrapes the sidecars on the admin port', () => {
    const config = parse(read('examples/prometheus/prometheus.yml'), { uniqueKeys: true }) as {
      rule_files?: string[];
      scrape_configs?: { job_name: string; static_configs?: { targets: string[] }[]; kubernetes_sd_configs?: { role: string }[] }[];
    };
    expect(config.rule_files).toEqual(['alerts.yml']);
    const jobs = config.scrape_configs ?? [];
    expect(jobs.flatMap((j) => j.static_configs ?? []).flatMap((s) => s.targets)).toContain(`127.0.0.1:${adminPort}`);
    expect(jobs.some((j) => j.kubernetes_sd_configs?.some((sd) => sd.role === 'pod'))).toBe(true);
  });
});

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
}

describe('examples/grafana/memshift-dashboard.json', () => {
  const dashboard = JSON.parse(dashboardText) as {
    schemaVersion?: number;
    uid?: string;
    title?: string;
    panels?: Panel[];
    templating?: { list?: { name?: string; type?: string; query?: unknown }[] };
  };
  const panels = (dashboard.panels ?? []).filter((p) => p.type !== 'row');

  it('is a schemaVersion 39 dashboard with a Prometheus datasource variable', () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.uid).toBeTruthy();
    expect(dashboard.templating?.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
  });

  it('queries the datasource variable from every panel, with unique ids on a 24-column grid', () => {
    expect(panels.length).toBeGreaterThanOrEqual(10);
    const ids = (dashboard.panels ?? []).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.datasource?.uid, p.title).toBe('${datasource}');
        expect(t.expr, p.title).toMatch(/memshift_/);
      }
      expect(p.gridPos!.x + p.gridPos!.w, p.title).toBeLessThanOrEqual(24);
    }
  });

  it('has the panels the operators asked for', () => {
    const exprs = panels.flatMap((p) => p.targets!.map((t) => t.expr ?? ''));
    for (const needle of [
      'memshift_requests_total',
      'histogram_quantile(0.5, sum by (backend, le) (rate(memshift_backend_request_duration_seconds_bucket',
      'histogram_quantile(0.99, sum by (backend, le) (rate(memshift_backend_request_duration_seconds_bucket',
      'memshift_backend_state',
      'memshift_client_connections',
      'memshift_client_received_bytes_total',
      'memshift_client_sent_bytes_total',
      'memshift_migration_phase{',
      'memshift_migration_keys',
      'memshift_migration_phase_seconds',
      'memshift_config_reloads_total',
      'memshift_write_log_entries',
    ]) {
      expect(exprs.some((e) => e.includes(needle)), needle).toBe(true);
    }
  });
});

describe('metric names in the examples', () => {
  // The families memshift really exports (the data sources are only read at scrape time).
  const notScraped = (): never => {
    throw new Error('not scraped in this test');
  };
  const metrics = new Metrics({ processMetrics: false });
  metrics.add(
    ...proxyFamilies(new ProxyStats()),
    ...backendFamilies(notScraped),
    ...replicationFamilies(notScraped),
    ...migrationFamilies(() => []),
    ...reloadFamilies(new ReloadCounters()),
    ...discoveryFamilies(notScraped),
    ...loadFamilies(notScraped),
  );
  const families = new Map(metrics.registry.getMetricsAsArray().map((m) => [m.name, String(m.type)]));
  const readme = read('docs/operations.md');

  /** A name as written, to the family it belongs to: histogram series carry _bucket, _sum, _count. */
  function familyOf(name: string): string | undefined {
    if (families.has(name)) return name;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return base !== name && families.get(base) === 'histogram' ? base : undefined;
  }

  it.each([
    ['examples/prometheus/alerts.yml', alertsText],
    ['examples/grafana/memshift-dashboard.json', dashboardText],
  ])('%s uses only real families, each listed in docs/operations.md', (_file, text) => {
    const used = [...new Set(text.match(/memshift_[a-z_]+/g) ?? [])].sort();
    expect(used.length).toBeGreaterThan(5);
    const unknown = used.filter((n) => familyOf(n) === undefined);
    expect(unknown, 'names that are not memshift metric families').toEqual([]);
    const unlisted = used.map((n) => familyOf(n)!).filter((f) => !readme.includes(`\`${f}\``));
    expect(unlisted, 'families missing from docs/operations.md "Metrics"').toEqual([]);
  });
});
