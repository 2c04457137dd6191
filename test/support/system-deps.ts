/**
 * The system programs the integration and acceptance tests start: memcached, nutcracker
 * (twemproxy), memccapable and memcaslap (libmemcached-tools), /usr/bin/python3 with pymemcache,
 * perl with Cache::Memcached, php with the memcached extension (the real-client tests),
 * prometheus (the scrape test), libfaketime (a sidecar whose clock is behind) and dnsmasq (the DNS server
 * that discovery tests edit; Debian's `dnsmasq-base`, the program without the system service that
 * `dnsmasq` adds and starts on port 53). `ensureSystemDeps()` checks them (a few stat calls and one
 * python, perl and php start each, no apt when all is present). When one is missing and we run as root it runs `apt-get update` once and
 * installs the missing Debian packages; otherwise it throws naming the package to install.
 * `npm run demo` checks its own few the same way (`ensureSystemDeps({ only: ['memcached'] })`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

interface Dep {
  /** What the tests need, for messages. */
  readonly what: string;
  /** The Debian package that provides it. */
  readonly pkg: string;
  readonly present: () => boolean;
}

/** PATH plus the sbin directories a non-root PATH often lacks (nutcracker lives in /usr/sbin). */
const SEARCH_DIRS = [
  ...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean),
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
];

const PYTHON = '/usr/bin/python3';
const PERL = '/usr/bin/perl';
const PHP = '/usr/bin/php';
/** Debian's prometheus package; the scrape test starts it itself on a free port. */
export const PROMETHEUS = '/usr/bin/prometheus';
/** libfaketime (Debian's faketime package): a sidecar with its wall clock off. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

function hasAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

const isExecutable = (path: string): boolean => hasAccess(path, constants.X_OK);
const isReadable = (path: string): boolean => hasAccess(path, constants.R_OK);

/** The absolute path of an executable, or undefined. */
export function findBinary(name: string): string | undefined {
  for (const dir of SEARCH_DIRS) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** The absolute path of an executable; throws naming the Debian package when it is missing. */
export function requireBinary(name: string): string {
  const path = findBinary(name);
  if (path !== undefined) return path;
  const dep = DEPS.find((d) => d.what === name);
  const pkg = dep?.pkg ?? name;
  throw new Error(`${name} not found in ${SEARCH_DIRS.join(':')}; install it: apt-get install -y ${pkg}`);
}

/** Whether `program args…` exits 0 (false when the program is missing). */
function runsOk(program: string, args: string[]): boolean {
  if (!isExecutable(program)) return false;
  const r = spawnSync(program, args, { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

const pythonHasPymemcache = (): boolean => runsOk(PYTHON, ['-c', 'import pymemcache']);
const perlHasCacheMemcached = (): boolean => runsOk(PERL, ['-MCache::Memcached', '-e1']);
const phpHasMemcached = (): boolean => runsOk(PHP, ['-r', 'exit(class_exists("Memcached")?0:1);']);

const DEPS: readonly Dep[] = [
  { what: 'memcached', pkg: 'memcached', present: () => findBinary('memcached') !== undefined },
  { what: 'nutcracker', pkg: 'nutcracker', present: () => findBinary('nutcracker') !== undefined },
  { what: 'memccapable', pkg: 'libmemcached-tools', present: () => findBinary('memccapable') !== undefined },
  { what: 'memcaslap', pkg: 'libmemcached-tools', present: () => findBinary('memcaslap') !== undefined },
  { what: `${PYTHON} with pymemcache`, pkg: 'python3-pymemcache', present: pythonHasPymemcache },
  { what: `${PERL} with Cache::Memcached`, pkg: 'libcache-memcached-perl', present: perlHasCacheMemcached },
  { what: PHP, pkg: 'php-cli', present: () => isExecutable(PHP) },
  { what: `${PHP} with the memcached extension`, pkg: 'php-memcached', present: phpHasMemcached },
  { what: PROMETHEUS, pkg: 'prometheus', present: () => isExecutable(PROMETHEUS) },
  { what: LIBFAKETIME, pkg: 'faketime', present: () => isReadable(LIBFAKETIME) },
  { what: 'openssl', pkg: 'openssl', present: () => findBinary('openssl') !== undefined },
  { what: 'dnsmasq', pkg: 'dnsmasq-base', present: () => findBinary('dnsmasq') !== undefined },
];

/**
 * Throws, naming the Debian package(s), unless every dependency whose `what` contains `needle` is
 * present: for a test that wants to say which library it lacks even when the global setup let it run.
 */
export function requireDep(needle: string): void {
  const deps = DEPS.filter((d) => d.what.includes(needle));
  if (deps.length === 0) throw new Error(`requireDep(${JSON.stringify(needle)}): no such system dependency in test/support/system-deps.ts`);
  const missing = deps.filter((d) => !d.present());
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((d) => d.pkg))];
  throw new Error(`${missing.map((d) => d.what).join(', ')} missing; install it as root: apt-get install -y ${pkgs.join(' ')}`);
}

/** The Debian packages whose programs (of `deps`, default all) are missing, without duplicates. */
export function missingPackages(deps: readonly Dep[] = DEPS): string[] {
  const pkgs = new Set<string>();
  for (const dep of deps) if (!dep.present()) pkgs.add(dep.pkg);
  return [...pkgs];
}

export interface EnsureOptions {
  /** Only these dependencies, each named by its `what` (`memcached`, `dnsmasq`, ...); default every one. */
  readonly only?: readonly string[];
  /** Who needs them, for the message when they are missing and we are not root; default `memshift tests`. */
  readonly who?: string;
}

function depsOf(only: readonly string[] | undefined): readonly Dep[] {
  if (only === undefined) return DEPS;
  return only.map((what) => {
    const dep = DEPS.find((d) => d.what === what);
    if (dep === undefined) throw new Error(`ensureSystemDeps: no system dependency ${JSON.stringify(what)} in test/support/system-deps.ts`);
    return dep;
  });
}

let aptUpdated = false;

function apt(args: string[]): void {
  execFileSync('apt-get', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 600_000,
  });
}

/**
 * Makes sure every system program the tests use (or those `opts.only` names) is installed. Quick and
 * silent when all is there. As root, installs what is missing with apt-get; otherwise throws with
 * the packages to install.
 */
export function ensureSystemDeps(opts: EnsureOptions = {}): void {
  const deps = depsOf(opts.only);
  let missing = missingPackages(deps);
  if (missing.length === 0) return;
  const hint = `apt-get install -y ${missing.join(' ')}`;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    throw new Error(
      `${opts.who ?? 'memshift tests'} need Debian packages that are missing: ${missing.join(', ')}.\n` +
        `Install them as root: sudo ${hint}`,
    );
  }
  if (findBinary('apt-get') === undefined) {
    throw new Error(`missing packages ${missing.join(', ')} and no apt-get to install them; install: ${missing.join(' ')}`);
  }
  console.error(`[system-deps] installing missing packages: ${missing.join(' ')}`);
  if (!aptUpdated) {
    apt(['update']);
    aptUpdated = true;
  }
  const failures = new Map<string, string>();
  try {
    apt(['install', '-y', ...missing]);
  } catch (err) {
    // One bad package fails the whole transaction: try each one alone to tell which it was.
    console.error(`[system-deps] apt-get install -y ${missing.join(' ')} failed (${(err as Error).message.split('\n')[0]}); trying one at a time`);
    for (const pkg of missing) {
      try {
        apt(['install', '-y', pkg]);
      } catch (e) {
        failures.set(pkg, (e as Error).message.split('\n')[0] ?? 'failed');
      }
    }
  }
  missing = missingPackages(deps);
  if (missing.length > 0) {
    const why = missing.map((pkg) => {
      const needs = deps.filter((d) => d.pkg === pkg && !d.present()).map((d) => d.what).join(', ');
      return `  ${pkg} (for ${needs}): ${failures.get(pkg) ?? 'apt-get install ran, but it is still not usable'}`;
    });
    throw new Error(`[system-deps] could not install these Debian packages:\n${why.join('\n')}`);
  }
}
