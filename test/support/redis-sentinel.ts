import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type PrivateRedis, startRedis, withDirectConnection } from '@docpipe/core';

export interface PrivateSentinel {
  master: PrivateRedis;
  replica: PrivateRedis;
  /**
   * The settings that point docpipe at the master through the Sentinel. REDIS_URL only carries
   * credentials there; it names a closed port, so a client that ignored the Sentinel would fail.
   */
  env: { REDIS_SENTINELS: string; REDIS_SENTINEL_NAME: string; REDIS_URL: string };
  /** The port of the master the Sentinel names now. */
  currentMasterPort(): Promise<number>;
  stop(): Promise<void>;
}

const NAME = 'docpipe';

/**
 * A master, its replica and one Sentinel (quorum 1) watching them, all private processes on free
 * loopback ports; the Sentinel fails over 1 s after the master stops answering.
 */
export async function startSentinel(): Promise<PrivateSentinel> {
  const master = await startRedis({ appendonly: true });
  const replica = await startRedis({
    appendonly: true,
    args: ['--replicaof', '127.0.0.1', String(master.port)],
  });
  const dir = await mkdtemp(join(tmpdir(), 'docpipe-sentinel-'));
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  await writeFile(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${NAME} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${NAME} 1000`,
      `sentinel failover-timeout ${NAME} 5000`,
      '',
    ].join('\n'),
  );
  const sentinel: ChildProcess = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const ask = <T>(command: string[]) =>
    withDirectConnection(
      { host: '127.0.0.1', port },
      async (client) => (await client.call(command[0]!, ...command.slice(1))) as T,
    );
  const stop = async () => {
    sentinel.kill('SIGKILL');
    await Promise.all([master.kill(), replica.kill()]);
    await Promise.all([master.stop(), replica.stop(), rm(dir, { recursive: true, force: true })]);
  };
  // Ready once it answers and has found the replica (from the master's INFO).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const replicas = await ask<unknown[]>(['SENTINEL', 'REPLICAS', NAME]).catch(() => []);
    if (replicas.length > 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error('the Sentinel did not find the replica within 30 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    master,
    replica,
    env: {
      REDIS_SENTINELS: `redis://127.0.0.1:${port}`,
      REDIS_SENTINEL_NAME: NAME,
      REDIS_URL: 'redis://127.0.0.1:6379',
    },
    async currentMasterPort() {
      const [, masterPort] = await ask<[string, string]>(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME]);
      return Number(masterPort);
    },
    stop,
  };
}
