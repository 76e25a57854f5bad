import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { withDirectConnection } from './redis.js';

export interface RedisServerOptions {
  /** Turn on AOF (fsync: `appendfsync`), so a restart or SIGKILL loses no acknowledged write. */
  appendonly?: boolean;
  /** `always` (default: tests lose nothing to a SIGKILL) or `everysec` (production's choice). */
  appendfsync?: 'always' | 'everysec';
  /** A data directory to keep across runs (the CLI's own Redis); default: a temporary one. */
  dir?: string;
  /** Defaults to `noeviction`, as docpipe requires. */
  maxmemoryPolicy?: string;
  /** The address to listen on; default 127.0.0.1. */
  host?: string;
  /** More redis-server arguments (`--cluster-enabled yes` …). */
  args?: readonly string[];
}

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  /** The server's process id (undefined while it is down). */
  readonly pid: number | undefined;
  /** Graceful shutdown (SIGTERM: the AOF is flushed), then removes a temporary data directory. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would; the data directory stays for restart(). */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory (AOF is replayed if enabled). */
  restart(): Promise<void>;
}

/**
 * Starts a private `redis-server` on a free loopback port: tests use it (never the machine's
 * Redis on 6379), and so does the CLI when no Redis answers.
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<PrivateRedis> {
  const temporary = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'docpipe-redis-')));
  if (!temporary) await mkdir(dir, { recursive: true });
  const host = options.host ?? '127.0.0.1';
  let port = await freePort(host);
  let child: ChildProcess | undefined;

  const args = () => [
    '--port',
    String(port),
    '--bind',
    host,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendonly ? 'yes' : 'no',
    '--appendfsync',
    options.appendfsync ?? 'always',
    '--maxmemory-policy',
    options.maxmemoryPolicy ?? 'noeviction',
    '--protected-mode',
    'no',
    '--loglevel',
    'warning',
    ...(options.args ?? []),
  ];

  const launch = async () => {
    for (let tries = 0; ; tries++) {
      // Its own process group: a Ctrl-C meant for the CLI must not take Redis down under it.
      const proc = spawn('redis-server', args(), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let output = '';
      proc.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      proc.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
      const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
      const ready = waitForPing(host, port, 10_000);
      const first = await Promise.race([
        ready.then(() => 'ready' as const),
        exited.then(() => 'exited' as const),
        spawnError.then((error) => error),
      ]);
      if (first === 'ready') {
        child = proc;
        return;
      }
      if (first instanceof Error) {
        throw new Error(
          `cannot start redis-server (${first.message}); install it (apt-get install redis-server)`,
        );
      }
      // Another process took the port between freePort() and the bind: pick another one.
      if (tries < 5 && /Address already in use/i.test(output)) {
        port = await freePort(host);
        continue;
      }
      throw new Error(`redis-server exited before answering on port ${port}:\n${output}`);
    }
  };

  const killChild = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    await exited;
  };

  await launch();

  return {
    get url() {
      return `redis://${host}:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return child?.pid;
    },
    dir,
    async stop() {
      await killChild('SIGTERM');
      if (temporary) await rm(dir, { recursive: true, force: true });
    },
    async kill() {
      await killChild('SIGKILL');
    },
    async restart() {
      await killChild('SIGKILL');
      await launch();
    },
  };
}

async function waitForPing(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await withDirectConnection({ host, port }, (client) => client.ping())) === 'PONG') return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
